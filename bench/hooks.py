"""Coding-agent hook latency: the time a PreToolUse hook adds to every tool call, end to end, process start included.

    PYTHONPATH=. python bench/hooks.py [--turns 200] [--cold-every 10] [--no-export] [--quick]

A 200-turn Claude Code session (``tests/support/coding_sessions.long_claude_session``: a thinking block and a
Bash call per turn) is replayed the way Claude Code writes it, and before each call the PreToolUse hook command
is run the way Claude Code runs it: the command string from the settings file ``otel-cot hooks install`` wrote,
through ``/bin/sh``, the hook's JSON on stdin, until the process exits. Two designs, measured at the same
points of the same session:

- ``client + warm checker`` (what ``install`` sets up): ``python -I -S client.py`` hands the call to the
  per-user checker over a unix socket; the checker has the guard warm and reads only what the transcript gained.
  Every call is measured; the first one, which starts the checker, is reported apart. PostToolUse is measured
  too (it schedules the export and answers at once); with exporting on, the spans go to a loopback OTLP
  receiver while the calls are timed.
- ``cold process``: ``python -m otel_cot.cli hooks run ...``, a fresh interpreter that imports otel_cot, the
  guard and the detectors, reads the whole transcript and judges the call, every ``--cold-every`` turns,
  interleaved with the warm call at the same point.

Also printed: the interpreter's own start-up (``python -I -S -c pass``) and the import time of the checker's
code (``python -X importtime``), the guard's own time per call as recorded on the decision, the CPU time of the
hook process, and the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from otel_cot.hooks.install import install
from otel_cot.hooks.policy import DEFAULT_POLICY
from tests.support.coding_sessions import long_claude_session
from tests.support.hook_replay import stop_checker
from tests.support.otlp_sink import OtlpSink


def _pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _row(name: str, samples: list[float]) -> dict:
    return {"design": name, "n": len(samples), "p50_ms": round(_pct(samples, 0.5), 2),
            "p95_ms": round(_pct(samples, 0.95), 2), "p99_ms": round(_pct(samples, 0.99), 2),
            "mean_ms": round(statistics.fmean(samples), 2), "max_ms": round(max(samples), 2)}


def _run(command: str, payload: bytes, env: dict[str, str]) -> tuple[float, float, bytes]:
    """Wall ms, CPU ms of the hook process (and its children), stdout."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run(command, shell=True, input=payload, env=env, capture_output=True, timeout=120)
    wall = (time.perf_counter() - started) * 1000.0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"hook failed ({proc.returncode}): {proc.stderr.decode()[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1000.0
    return wall, cpu, proc.stdout


def _startup(env: dict[str, str]) -> dict:
    samples = []
    for _ in range(15):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-I", "-S", "-c", "pass"], env=env, check=True)
        samples.append((time.perf_counter() - started) * 1000.0)
    proc = subprocess.run([sys.executable, "-X", "importtime", "-c", "import otel_cot.hooks.service, "
                           "otel_cot.detectors.registry as r; r.default_detectors()"], env=env,
                          capture_output=True, text=True, check=True)
    cumulative = {}
    for line in proc.stderr.splitlines():
        m = re.match(r"import time:\s+\d+ \|\s+(\d+) \| (\S.*)$", line)
        if m and not m.group(2).startswith(" "):
            cumulative[m.group(2)] = int(m.group(1)) / 1000.0
    return {"interpreter_start_ms_p50": round(_pct(samples, 0.5), 2),
            "import_ms": round(sum(cumulative.values()), 1),
            "import_ms_by_top_module": {k: round(v, 1) for k, v in sorted(cumulative.items(), key=lambda kv: -kv[1])[:5]}}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--turns", type=int, default=200)
    parser.add_argument("--cold-every", type=int, default=10)
    parser.add_argument("--no-export", action="store_true", help="the checker exports nothing")
    parser.add_argument("--quick", action="store_true", help="20 turns (a smoke run)")
    args = parser.parse_args()
    turns = 20 if args.quick else args.turns

    root = tempfile.mkdtemp(prefix="otel-cot-bench-hooks-")
    sock_dir = tempfile.mkdtemp(prefix="ocb-", dir="/tmp")
    sink = None if args.no_export else OtlpSink()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "CLAUDE_"))}
    env.update(HOME=root, XDG_STATE_HOME=os.path.join(root, "state"), XDG_CONFIG_HOME=os.path.join(root, "config"),
               OTEL_COT_HOOKS_SOCKET=os.path.join(sock_dir, "hooks.sock"), OTEL_COT_HOOKS_IDLE_S="600")
    if sink is None:
        env["OTEL_TRACES_EXPORTER"] = "none"
    else:
        env.update(OTEL_EXPORTER_OTLP_ENDPOINT=sink.url, OTEL_EXPORTER_OTLP_PROTOCOL="http/protobuf")
    cold_env = dict(env, OTEL_TRACES_EXPORTER="none")
    policy = os.path.join(root, "policy.yaml")
    with open(policy, "w", encoding="utf-8") as fh:
        fh.write(DEFAULT_POLICY)
    settings = os.path.join(root, ".claude", "settings.json")
    install("claude_code", settings, policy, env=env)
    with open(settings, encoding="utf-8") as fh:
        hooks = json.load(fh)["hooks"]
    pre_command = hooks["PreToolUse"][0]["hooks"][0]["command"]
    post_command = hooks["PostToolUse"][0]["hooks"][0]["command"]
    cold_command = " ".join([sys.executable, "-m", "otel_cot.cli", "hooks", "run", "claude_code", "PreToolUse",
                             "--policy", policy])
    transcript = os.path.join(root, ".claude", "projects", "-bench", "0d0e0f10-1111-4222-8333-444455556666.jsonl")
    os.makedirs(os.path.dirname(transcript))
    load_before = os.getloadavg()
    startup = _startup(cold_env)

    warm, warm_cpu, post, cold, cold_cpu, paired = [], [], [], [], [], []
    first_call = None
    records = [json.loads(line) for line in long_claude_session(turns)]
    try:
        with open(transcript, "a", encoding="utf-8") as out:
            out.write(json.dumps(records[0]) + "\n")
            out.flush()
            for turn in range(turns):
                thinking, call, result = records[1 + 3 * turn: 4 + 3 * turn]
                block = call["message"]["content"][0]
                payload = json.dumps({"session_id": call["sessionId"], "transcript_path": transcript, "cwd": "/w",
                                      "hook_event_name": "PreToolUse", "permission_mode": "default",
                                      "tool_name": block["name"], "tool_input": block["input"],
                                      "tool_use_id": block["id"]}).encode()
                cold_here = turn > 0 and turn % args.cold_every == 0
                if cold_here and turn % (2 * args.cold_every) == 0:  # alternate which design goes first
                    wall, cpu, _ = _run(cold_command, payload, cold_env)
                    cold.append(wall)
                    cold_cpu.append(cpu)
                wall, cpu, answer = _run(pre_command, payload, env)
                if answer:
                    raise SystemExit(f"a harmless call was not allowed: {answer!r}")
                if turn == 0:
                    first_call = wall
                else:
                    warm.append(wall)
                    warm_cpu.append(cpu)
                if cold_here and turn % (2 * args.cold_every) != 0:
                    wall_cold, cpu, _ = _run(cold_command, payload, cold_env)
                    cold.append(wall_cold)
                    cold_cpu.append(cpu)
                if cold_here:
                    paired.append((cold[-1], wall))
                for record in (thinking, call, result):  # Claude Code writes the message after PreToolUse
                    out.write(json.dumps(record) + "\n")
                out.flush()
                post_payload = json.loads(payload)
                post_payload.update(hook_event_name="PostToolUse", tool_response={"stdout": f"file{turn}.txt"})
                wall, _cpu, _ = _run(post_command, json.dumps(post_payload).encode(), env)
                post.append(wall)
    finally:
        stop_checker(env)
        load_after = os.getloadavg()

    guard_ms = []
    decisions_dir = os.path.join(env["XDG_STATE_HOME"], "otel-cot", "guard-decisions", "claude_code")
    for name in os.listdir(decisions_dir):
        with open(os.path.join(decisions_dir, name), encoding="utf-8") as fh:
            guard_ms.extend(json.loads(line)["attributes"]["cot.guard.duration_ms"] for line in fh)
    exported = len(sink.spans()) if sink is not None else 0
    if sink is not None:
        sink.close()
    shutil.rmtree(root, ignore_errors=True)
    shutil.rmtree(sock_dir, ignore_errors=True)

    rows = [_row("client + warm checker", warm), _row("cold process", cold), _row("PostToolUse (warm)", post)]
    print(f"hook latency per tool call, {turns}-turn Claude Code session, wall ms (load {load_before[0]:.2f} -> "
          f"{load_after[0]:.2f} on {os.cpu_count()} cores)")
    print("| design | calls | p50 | p95 | p99 | mean | max |")
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        print(f"| {row['design']} | {row['n']} | {row['p50_ms']} | {row['p95_ms']} | {row['p99_ms']} | "
              f"{row['mean_ms']} | {row['max_ms']} |")
    ratio = statistics.median(c / w for c, w in paired) if paired else float("nan")
    print(f"first call (starts the checker): {first_call:.1f} ms; cold / warm at the same turns: median {ratio:.1f}x "
          f"({len(paired)} pairs)")
    print(f"hook process CPU ms p50: warm {_pct(warm_cpu, 0.5):.1f}, cold {_pct(cold_cpu, 0.5):.1f}; "
          f"guard's own time per call (cot.guard.duration_ms) p50 {_pct(guard_ms, 0.5):.2f} ms, "
          f"p95 {_pct(guard_ms, 0.95):.2f} ms")
    print(f"interpreter start (-I -S -c pass) p50 {startup['interpreter_start_ms_p50']} ms; importing the checker's "
          f"code and detectors: {startup['import_ms']} ms ({startup['import_ms_by_top_module']})")
    print(json.dumps({"turns": turns, "rows": rows, "first_call_ms": round(first_call or 0, 1),
                      "cold_over_warm": round(ratio, 2), "startup": startup, "spans_exported": exported,
                      "load": [load_before[0], load_after[0]]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
