"""The benchmarks still run (quick/smoke modes). Not timing assertions: benchmarks are not tests."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.bench, pytest.mark.process]

ROOT = Path(__file__).resolve().parent.parent


def _run(*args: str, timeout: int = 240) -> str:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return proc.stdout


def test_sdk_overhead_quick() -> None:
    pytest.importorskip("openai")
    pytest.importorskip("anthropic")
    out = _run("bench/sdk_overhead.py", "--quick")
    assert "| scenario | chunks | bare µs | otel-cot | bare |" in out  # the CPU-time table
    assert "| scenario | variant | CPU overhead µs |" in out
    for scenario in ("openai.chat", "openai.chat.stream", "openai.chat.stream.reasoning", "openai.responses",
                     "openai.responses.stream", "anthropic.messages", "anthropic.messages.stream"):
        assert any(line.startswith(f"| {scenario} |") and "| otel-cot |" in line for line in out.splitlines())
    # otel-cot exported spans; bare exported none (the SDK's own Anthropic spans are off in every variant); the
    # switch turned otel-cot off for its bare blocks (they exported no span)
    line = next(line for line in out.splitlines() if line.startswith("# spans exported per variant"))
    timing, bare_blocks = (json.loads(part[part.index("{"):]) for part in line.split("; by bare blocks"))
    assert timing["bare"] == 0 and timing["otel-cot"] > 0
    assert bare_blocks == {"bare": 0, "otel-cot": 0}
    # one model-call span per call in every scenario (a peer keyed on the response id would show less)
    line = next(line for line in out.splitlines() if line.startswith("# model-call spans per call"))
    per_call = json.loads(line[line.index("{"):])
    assert set(per_call["bare"].values()) == {"0/0"}
    assert {s: c.split("/")[0] for s, c in per_call["otel-cot"].items()} == dict.fromkeys(per_call["bare"], "1")


def test_sdk_overhead_replay_gives_each_call_its_own_response_id() -> None:
    import urllib.request

    spec = importlib.util.spec_from_file_location("sdk_overhead_under_test", ROOT / "bench" / "sdk_overhead.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    server = bench.serve()
    try:
        for scenario in bench.SCENARIOS:
            recorded = bench.response_id(bench.load(scenario)["response"])
            bodies = [urllib.request.urlopen(urllib.request.Request(
                f"http://127.0.0.1:{server.server_address[1]}/{scenario}/v1", data=b"{}")).read().decode()
                for _ in range(2)]
            assert recorded not in bodies[0] and recorded not in bodies[1]
            ids = [recorded[:-8] + body.split(recorded[:-8], 1)[1][:8] for body in bodies]
            assert ids[0] != ids[1] and len(ids[0]) == len(recorded)
            assert len(bodies[0]) == len(bodies[1]) and bodies[0].replace(ids[0], recorded) == bodies[1].replace(ids[1], recorded)
    finally:
        server.shutdown()



def test_sdk_profile_interleaved_quick() -> None:
    pytest.importorskip("openai")
    out = _run("bench/sdk_profile.py", "--interleaved", "--scenarios", "openai.chat,openai.chat.stream", "--pairs", "1",
               "--iters", "2", "--warmup", "1")
    assert "| scenario | back to back | SDK call alone | between SDK calls | ratio | other threads |" in out
    assert sum(line.startswith(("| openai.chat |", "| openai.chat.stream |")) for line in out.splitlines()) == 2

def test_sdk_profile_time_breakdown_quick() -> None:
    pytest.importorskip("openai")
    out = _run("bench/sdk_profile.py", "--breakdown", "--scenarios", "openai.responses", "--iters", "2", "--warmup", "1")
    rows = {line.split(" | ")[0].lstrip("| ") for line in out.splitlines() if line.startswith("| ")}
    assert {"whole call", "OpenTelemetry SDK span work (NoOpTracer)", "secret scan (finds nothing)",
            "response extraction (non-stream)"} <= rows
    assert "stream accumulation (add does nothing)" not in rows  # a non-streamed call has no stream part


def test_detectors_quick() -> None:
    out = _run("bench/detectors.py", "--quick")
    assert '"mb_per_s_per_core"' in out and '"spans_per_s"' in out
    out = _run("bench/detectors.py", "--scaling", "--quick")
    assert '"us_per_kb_vs_smallest"' in out
    out = _run("bench/detectors.py", "--memory", "--quick")
    assert '"bytes_per_held_trace"' in out
    out = _run("bench/detectors.py", "--per-kind", "--quick")
    assert '"cot.reward_hacking tool_call"' in out and '"detector_s"' in out
    out = _run("bench/detectors.py", "--passes", "2", "--quick")
    assert '"cpu_s_best"' in out and '"mb_per_s_per_core_best"' in out


def test_collector_breakdown_quick() -> None:
    pytest.importorskip("opentelemetry.proto")
    out = _run("bench/collector_breakdown.py", "--requests", "1")
    for part in ("protobuf decode", "span_record", "views_from_record", "engine, built-in detectors inline",
                 "share of cot.reward_hacking"):
        assert part in out, out


def test_collector_per_view_quick_on_both_loads() -> None:
    pytest.importorskip("opentelemetry.proto")
    for extra in ((), ("--mixed",)):
        out = _run("bench/collector_per_view.py", "--requests", "1", "--rounds", "1", *extra)
        assert "cot.reward_hacking" in out and "per span, all detectors" in out, out
    assert "1,000 spans" in out


def test_guard_quick() -> None:
    out = _run("bench/guard.py", "--quick")
    assert "check " in out and "p99" in out and '"detectors"' in out


def test_collector_quick() -> None:
    pytest.importorskip("opentelemetry.proto")
    pytest.importorskip("requests")
    pytest.importorskip("yaml")
    out = _run("bench/collector.py", "--quick", "--modes", "decode,decode+walk,off,on,sustained")
    assert "| mode | spans |" in out
    rows = {line.split("|")[1].strip(): line for line in out.splitlines() if line.startswith("| ")}
    assert "decode" in rows and "decode+walk" in rows, out
    for mode in ("off", "on", "sustained"):  # through the collector: every span must be at the sink
        assert rows.get(mode, "").rstrip().endswith("| yes |"), f"{mode}: no row, or spans missing:\n{out}"
    assert "| spans at sink | elapsed s | RSS MiB |" in out and "| 5,000 |" in out  # the sustained samples


def test_collector_two_instances_quick() -> None:
    pytest.importorskip("opentelemetry.proto")
    pytest.importorskip("requests")
    pytest.importorskip("yaml")
    spec = importlib.util.spec_from_file_location("bench_collector", ROOT / "bench" / "collector.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)  # type: ignore[union-attr]
    if bench.find_otelcol() is None:
        pytest.skip("no OpenTelemetry Collector build (scripts/install-otelcol.sh)")
    out = _run("bench/collector.py", "--quick", "--modes", "lb")
    assert any(line.startswith("| lb |") and line.rstrip().endswith("| yes |") for line in out.splitlines()), out
    assert "lb: 2 instances" in out


def test_hooks_quick() -> None:
    out = _run("bench/hooks.py", "--quick", "--no-export")
    assert "| client + warm checker | 19 |" in out and "| cold process | 1 |" in out
    assert '"cold_over_warm"' in out and "first call (starts the checker)" in out


def test_init_time_quick() -> None:
    out = _run("bench/init_time.py", "--quick", "--scenarios", "init(),import openai after init()")
    assert "| init() |" in out and "| import openai after init() |" in out
    assert "modules imported by init(): none of" in out
