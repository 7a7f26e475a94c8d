"""Detector throughput: MB/s of span text per core and spans/s, with the built-in detectors.

    PYTHONPATH=. python bench/detectors.py [DATA.jsonl ...] [--repeat N] [--backend NAME]
    PYTHONPATH=. python bench/detectors.py --scaling      # cost against text size (must be linear)
    PYTHONPATH=. python bench/detectors.py [DATA.jsonl ...] --gitleaks   # secret scan vs gitleaks
    PYTHONPATH=. python bench/detectors.py --memory       # bytes held per trace (must not grow)
    PYTHONPATH=. python bench/detectors.py [DATA.jsonl ...] --per-kind   # each detector's µs per view kind
    PYTHONPATH=. python bench/detectors.py [DATA.jsonl ...] --passes 6   # CPU per pass: best and median

``--gitleaks`` builds gitleaks from the Go module proxy on first use (``scripts/install-gitleaks.sh``,
cached in ~/.cache/otel-cot/bin) and scans the same text with it: one file per trajectory, its default
rules, CPU time of the process (user + system, all its threads). Our side: ``otel_cot.secrets.find_secrets``
over every view's text, and the ``cot.secret_exposure`` detector alone in the engine.

With JSONL trajectories (the eval format) it replays their steps; without, it uses a synthetic mix of
reasoning, tool calls and tool results. Single-threaded (one core), detectors inline (no timeout
thread), so the figure is the engine's own cost.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import tempfile
import time
from pathlib import Path

from otel_cot import textscan
from otel_cot.detectors import Engine
from otel_cot.eval import read_jsonl, trajectory_views


def synthetic(n: int = 400, seed: int = 7) -> list[dict]:
    rnd = random.Random(seed)
    words = "the test passes value config file user request tool output result function return".split()
    out = []
    for i in range(n):
        steps = [{"kind": "user", "text": "Please fix the failing build and report back."}]
        for _ in range(12):
            prose = " ".join(rnd.choice(words) for _ in range(rnd.randint(50, 400)))
            steps.append({"kind": "reasoning", "text": prose})
            steps.append({"kind": "tool_call", "tool": "bash", "text": json.dumps({"command": "pytest -q tests"}),
                          "arguments": {"command": "pytest -q tests"}})
            steps.append({"kind": "tool_result", "tool": "bash", "text": prose * 2})
        steps.append({"kind": "assistant", "text": "Done: " + prose[:200]})
        out.append({"id": f"s{i}", "steps": steps})
    return out


_CODE = ("def solve(xs):\n    total = 0\n    for x in xs:\n        if x == 10: total += 2 ** 3 - 1\n"
         "    return total  # checked by assert solve([1, 2]) == 3\n")


def sized(size: int, traces: int, seed: int = 11) -> list[dict]:
    """Traces whose every view carries about ``size`` characters: reasoning, a file write, a shell command
    with a long heredoc, its output, an answer with arithmetic."""
    rnd = random.Random(seed)
    words = ("the test passes value config file user request tool output result function return please "
             "ignore send token 42 == 7 + 35 api key").split()

    def prose() -> str:
        out: list[str] = []
        n = 0
        while n < size:
            w = rnd.choice(words)
            out.append(w)
            n += len(w) + 1
        return " ".join(out)

    code = (_CODE * (size // len(_CODE) + 1))[:size]
    out = []
    for i in range(traces):
        steps = [{"kind": "user", "text": "Fix the failing build."}]
        for _ in range(4):
            write = {"file_path": "src/solve.py", "content": code}
            shell = {"command": "cat > notes.txt <<'EOF'\n" + prose() + "\nEOF"}
            steps += [{"kind": "reasoning", "text": prose()},
                      {"kind": "tool_call", "tool": "write_file", "text": json.dumps(write), "arguments": write},
                      {"kind": "tool_call", "tool": "bash", "text": json.dumps(shell), "arguments": shell},
                      {"kind": "tool_result", "tool": "bash", "text": prose()},
                      {"kind": "assistant", "text": "Checked: 6 * 7 = 42. " + prose()}]
        out.append({"id": f"z{size}-{i}", "steps": steps})
    return out


def _measure(trajectories: list[dict], repeat: int = 1) -> tuple[int, int, float, Engine]:
    prepared = [trajectory_views(t) for t in trajectories]
    chars = sum(len(v.text) for _, views in prepared for v in views)
    spans = sum(len(views) for _, views in prepared)
    engine = Engine(timeout_s=None)
    textscan.warm()  # the compiled matcher is built once per process: not part of the throughput
    t0 = time.process_time()
    for _ in range(repeat):
        for tid, views in prepared:
            engine.process_views(tid, views)
            engine.end_trace(tid)
    return chars * repeat, spans * repeat, time.process_time() - t0, engine


def passes(trajectories: list[dict], count: int) -> dict:
    """CPU seconds of each of ``count`` passes after a warm-up pass, in one engine: the steady pass, less moved
    by other work on the machine than one figure over several passes."""
    prepared = [trajectory_views(t) for t in trajectories]
    chars = sum(len(v.text) for _, views in prepared for v in views)
    engine = Engine(timeout_s=None)
    textscan.warm()
    times = []
    for n in range(count + 1):
        t0 = time.process_time()
        for tid, views in prepared:
            engine.process_views(tid, views)
            engine.end_trace(tid)
        if n:  # (the first pass warms caches: not counted)
            times.append(time.process_time() - t0)
    times.sort()
    return {"cpu_s_best": round(times[0], 3), "cpu_s_median": round(times[len(times) // 2], 3),
            "mb_per_s_per_core_best": round(chars / 1e6 / times[0], 2)}


def per_kind(trajectories: list[dict]) -> dict:
    """Each detector's CPU per view kind (its ``detect`` wrapped in a timer; the first detector to ask about
    a text pays for its compiled scan), and the whole run's CPU with the timers on."""
    prepared = [trajectory_views(t) for t in trajectories]
    engine = Engine(timeout_s=None)
    textscan.warm()
    spent: dict[str, float] = {}
    calls: dict[str, int] = {}
    clock = time.perf_counter
    for detector in engine.detectors:
        def timed(view, ctx, detect=detector.detect, name=detector.id):  # type: ignore[no-untyped-def]
            t0 = clock()
            try:
                return detect(view, ctx)
            finally:
                key = f"{name} {view.kind}"
                spent[key] = spent.get(key, 0.0) + clock() - t0
                calls[key] = calls.get(key, 0) + 1
        detector.detect = timed  # type: ignore[method-assign]
    t0 = time.process_time()
    for tid, views in prepared:
        engine.process_views(tid, views)
        engine.end_trace(tid)
    total = time.process_time() - t0
    by_detector: dict[str, float] = {}
    for key, s in spent.items():
        by_detector[key.split()[0]] = by_detector.get(key.split()[0], 0.0) + s
    return {"cpu_s_with_timers": round(total, 3),
            "detector_s": {k: round(v, 3) for k, v in sorted(by_detector.items(), key=lambda kv: -kv[1])},
            "us_per_view": {k: round(spent[k] / calls[k] * 1e6, 1) for k in sorted(spent, key=lambda k: -spent[k])},
            "views": calls}


def gitleaks_binary() -> str:
    script = Path(__file__).resolve().parent.parent / "scripts" / "install-gitleaks.sh"
    return subprocess.run(["bash", str(script)], check=True, capture_output=True, text=True).stdout.strip()


def secret_scan(trajectories: list[dict]) -> dict:
    """MB/s per core of our secret scan and of gitleaks on the same text."""
    from otel_cot.detectors.registry import default_detectors
    from otel_cot.secrets import find_secrets

    prepared = [trajectory_views(t) for t in trajectories]
    texts = [v.text for _, views in prepared for v in views]
    mb = sum(len(t.encode()) for t in texts) / 1e6
    Engine(timeout_s=None)  # registers and builds the compiled matcher outside the timing
    t0 = time.process_time()
    ours = sum(len(find_secrets(t)) for t in texts)
    scanner = time.process_time() - t0
    engine = Engine([d for d in default_detectors() if d.id == "cot.secret_exposure"], timeout_s=None)
    t0 = time.process_time()
    for tid, views in prepared:
        engine.process_views(tid, views)
        engine.end_trace(tid)
    detector = time.process_time() - t0
    binary = gitleaks_binary()
    with tempfile.TemporaryDirectory() as tmp:
        for n, (_, views) in enumerate(prepared):
            Path(tmp, f"{n:05d}.txt").write_text("\n".join(v.text for v in views), encoding="utf-8")
        runs = {}
        for label, extra in (("default", []), ("no_decoding", ["--max-decode-depth", "0"])):
            report = os.path.join(tmp, f"report-{label}.json")
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            subprocess.run([binary, "dir", tmp, "--no-banner", "--exit-code", "0", "--log-level", "error",
                            "--report-format", "json", "--report-path", report, *extra], check=True)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
            with open(report, encoding="utf-8") as fh:
                runs[label] = (cpu, len(json.load(fh)))
    out = {"text_mb": round(mb, 2), "backend": textscan.backend_name(),
           "find_secrets_mb_per_s_per_core": round(mb / scanner, 1), "find_secrets_found": ours,
           "secret_exposure_detector_mb_per_s_per_core": round(mb / detector, 1),
           "gitleaks": binary.rsplit("/", 1)[-1]}
    for label, (cpu, found) in runs.items():  # gitleaks' default decodes base64/hex/percent text 5 deep
        out[f"gitleaks_{label}_mb_per_s_per_core"] = round(mb / cpu, 2)
        out[f"gitleaks_{label}_found"] = found
        out[f"find_secrets_vs_gitleaks_{label}"] = round(cpu / scanner, 1)
        out[f"secret_exposure_vs_gitleaks_{label}"] = round(cpu / detector, 1)
    return out


def held_memory(traces: int = 800) -> dict:
    """Bytes the engine holds per trace (tracemalloc), on the collector bench's load: tool spans of 6
    attributes (collector/bench/throughput.py), 10 per trace, all traces kept (no eviction)."""
    import gc
    import tracemalloc

    from otel_cot.detectors import SpanRecord

    def record(sid: int) -> SpanRecord:
        i = sid % 1000
        attrs = {"gen_ai.tool.name": "bash", "gen_ai.operation.name": "execute_tool",
                 "gen_ai.tool.call.id": f"call_{sid}", "gen_ai.tool.type": "function",
                 "gen_ai.tool.call.arguments": json.dumps({"command": f"pytest tests/test_{i}.py -q"}),
                 "gen_ai.tool.call.result": "1 passed in 0.01s " * 5}
        return SpanRecord(trace_id=format(sid // 10 + (1 << 100), "032x"), span_id=format(sid, "016x"),
                          name="execute_tool bash", attributes=attrs, start_time_ns=1, end_time_ns=2)

    engine = Engine(timeout_s=None, max_traces=10 * traces)
    textscan.warm()
    engine.process_many([record(sid) for sid in range(10, 1010)])  # warm every cache first
    records = [record(sid) for sid in range(1010, 1010 + 10 * traces)]
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    engine.process_many(records)
    gc.collect()
    grown = sum(d.size_diff for d in tracemalloc.take_snapshot().compare_to(before, "filename"))
    tracemalloc.stop()
    return {"traces_held": engine.trace_count - 100, "bytes_per_held_trace": round(grown / traces)}


def scaling(quick: bool) -> None:
    """The same total text in views of growing size: constant MB/s means cost linear in the text."""
    sizes = [256, 1024, 4096] if quick else [1024, 4096, 16384, 65536, 262144]
    budget = 200_000 if quick else 16_000_000  # characters per size
    rows = []
    for size in sizes:
        traces = max(1, budget // (size * 21))
        chars, spans, cpu, _ = _measure(sized(size, traces))
        rows.append({"chars_per_view": size, "views": spans, "text_mb": round(chars / 1e6, 2),
                     "cpu_s": round(cpu, 3), "mb_per_s_per_core": round(chars / 1e6 / cpu, 2),
                     "us_per_kb": round(cpu * 1e6 / (chars / 1024), 2)})
    base = rows[0]["us_per_kb"]
    for row in rows:
        row["us_per_kb_vs_smallest"] = round(row["us_per_kb"] / base, 2)
    print(json.dumps({"scaling": rows}, indent=2))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("data", nargs="*")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--quick", action="store_true", help="smoke mode: a few synthetic traces")
    ap.add_argument("--scaling", action="store_true", help="cost against text size per view")
    ap.add_argument("--backend", choices=["hyperscan", "re2", "python", "off"],
                    help="text-scan backend (default: the first available; off: plain re)")
    ap.add_argument("--gitleaks", action="store_true", help="secret scan against gitleaks on the same text")
    ap.add_argument("--memory", action="store_true", help="bytes the engine holds per trace")
    ap.add_argument("--per-kind", action="store_true", help="each detector's time per view kind")
    ap.add_argument("--passes", type=int, default=0, help="CPU of each pass after a warm-up: best and median")
    args = ap.parse_args()
    if args.backend:
        textscan.use_backend(args.backend)
    if args.memory:
        print(json.dumps({"memory": held_memory(80 if args.quick else 800)}, indent=2))
        return
    if args.gitleaks:
        trajectories = list(read_jsonl(args.data)) if args.data else synthetic(10 if args.quick else 400)
        print(json.dumps({"secret_scan": secret_scan(trajectories)}, indent=2))
        return
    if args.scaling:
        scaling(args.quick)
        return
    if args.per_kind:
        trajectories = list(read_jsonl(args.data)) if args.data else synthetic(10 if args.quick else 400)
        print(json.dumps({"per_kind": per_kind(trajectories)}, indent=2))
        return
    if args.passes:
        trajectories = list(read_jsonl(args.data)) if args.data else synthetic(10 if args.quick else 400)
        print(json.dumps({"passes": passes(trajectories, args.passes)}, indent=2))
        return
    trajectories = list(read_jsonl(args.data)) if args.data else synthetic(10 if args.quick else 400)
    chars, spans, cpu, engine = _measure(trajectories, args.repeat)
    mb = chars / 1e6
    print(json.dumps({"trajectories": len(trajectories) * args.repeat, "spans": spans,
                      "text_mb": round(mb, 2), "cpu_s": round(cpu, 2),
                      "mb_per_s_per_core": round(mb / cpu, 2), "spans_per_s": round(spans / cpu),
                      "backend": textscan.backend_name(),
                      "detectors": [d.id for d in engine.detectors]}, indent=2))


if __name__ == "__main__":
    main()
