"""The model-based monitor's plumbing and window sizes on labelled trajectories, with a scripted judge.

    PYTHONPATH=. python bench/monitor.py DATA.jsonl... [--delay 0] [--concurrency 4] [--window 12000]

Every trajectory is windowed and sent to a loopback judge (tests/support/judge_server.py) that answers
"no findings" after ``--delay`` seconds. Reported: window tokens and request tokens (estimated with
``otel_cot.monitor.estimate_tokens``: the window and the whole request, system prompt included), the CPU
time to build a window, and the judgements per second of the plumbing. No real model is called, so
nothing here measures a judge's precision or recall.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from otel_cot import semconv  # noqa: E402
from otel_cot.detectors import Engine, SpanRecord  # noqa: E402
from otel_cot.eval import read_jsonl, trajectory_views  # noqa: E402
from otel_cot.monitor import Monitor, MonitorRunner, estimate_tokens, parse_monitor  # noqa: E402
from otel_cot.eval_monitor import evaluate_with_monitor  # noqa: E402
from tests.support.judge_server import Answer, JudgeServer  # noqa: E402


def records(trajectory: dict, trace_id: str) -> list[SpanRecord]:
    """A trajectory as the spans an instrumented agent would export: one span per step (reasoning span,
    tool span, chat span), the root last."""
    out = []
    for i, step in enumerate(trajectory.get("steps") or ()):
        kind, text = step.get("kind"), step.get("text") or ""
        if kind == "reasoning":
            attrs = {semconv.COT_REASONING_CONTENT: text}
        elif kind in ("tool_call", "tool_result"):
            key = semconv.GEN_AI_TOOL_CALL_ARGUMENTS if kind == "tool_call" else semconv.GEN_AI_TOOL_CALL_RESULT
            attrs = {semconv.GEN_AI_TOOL_NAME: step.get("tool") or "tool", key: text}
        else:
            role = "user" if kind == "user" else "assistant"
            key = semconv.GEN_AI_INPUT_MESSAGES if role == "user" else semconv.GEN_AI_OUTPUT_MESSAGES
            attrs = {key: json.dumps([{"role": role, "parts": [{"type": "text", "content": text}]}])}
        out.append(SpanRecord(trace_id, format(i + 2, "016x"), kind or "step", attrs, i, i + 1, format(1, "016x")))
    out.append(SpanRecord(trace_id, format(1, "016x"), "invoke_agent", {}, 0, len(out) + 1, None))
    return out


def pct(values: list[int], q: float) -> int:
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * q))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("data", nargs="+")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds the scripted judge takes to answer")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--window", type=int, default=12_000, help="window.max_tokens")
    args = parser.parse_args()

    trajectories = list(read_jsonl(args.data))
    server = JudgeServer(count_tokens=estimate_tokens)
    server.serve(Answer(verdict={"findings": []}, delay=args.delay))
    config = parse_monitor({"api": "openai", "endpoint": server.endpoint("openai"), "model": "scripted",
                            "window": {"max_tokens": args.window}, "concurrency": args.concurrency,
                            "queue_size": 100_000, "cache_size": 0, "budgets": {
                                "calls_per_minute": 0, "calls_per_day": 0, "tokens_per_minute": 0,
                                "tokens_per_day": 0}})
    monitor = Monitor(config)

    # Window building alone, on one core.
    views = [trajectory_views(t)[1] for t in trajectories]
    cpu = time.process_time()
    windows = [monitor.window(v) for v in views]
    build_cpu = time.process_time() - cpu
    full = [sum(estimate_tokens(x.arguments if x.kind == "tool_call" and x.arguments else x.text) for x in v)
            for v in views]
    window_tokens = [w.tokens for w in windows]
    requests = [estimate_tokens(monitor.prompt.system) + estimate_tokens(monitor.prompt.request(w, monitor.categories))
                for w in windows]
    judgeable = sum(1 for w in windows if w.judgeable)

    # What the exporting thread pays: filing finished spans with the runner (no trace is triggered here,
    # so nothing is judged).
    quiet = Monitor(parse_monitor({"api": "openai", "endpoint": server.endpoint("openai"), "model": "scripted",
                                   "triggers": {"flagged": False}}))
    runner = MonitorRunner(quiet)
    spans = [records(t, format(n, "032x")) for n, t in enumerate(trajectories)]
    cpu = time.process_time()
    for batch in spans:
        runner.observe(batch)
    observe_cpu = time.process_time() - cpu
    runner.close(timeout=0)
    span_count = sum(len(b) for b in spans)

    # The whole path: rules + window + judge call + verdict, concurrency calls at a time.
    started = time.monotonic()
    cpu = time.process_time()
    result = evaluate_with_monitor(trajectories, Engine(timeout_s=None), monitor)
    wall = time.monotonic() - started
    path_cpu = time.process_time() - cpu
    server.close()
    report = {
        "trajectories": len(trajectories),
        "judgeable": judgeable,
        "trace_tokens": {"mean": round(statistics.mean(full)), "p50": pct(full, 0.5), "p95": pct(full, 0.95),
                         "max": max(full)},
        "window_tokens": {"mean": round(statistics.mean(window_tokens)), "p50": pct(window_tokens, 0.5),
                          "p95": pct(window_tokens, 0.95), "max": max(window_tokens)},
        "request_tokens": {"mean": round(statistics.mean(requests)), "p50": pct(requests, 0.5),
                           "p95": pct(requests, 0.95), "max": max(requests)},
        "windows_cut": sum(1 for w in windows if w.omitted or any(i.cut for i in w.items)),
        "window_build_ms_per_trajectory_cpu": round(1000 * build_cpu / len(trajectories), 3),
        "observe_us_per_span_cpu": round(1e6 * observe_cpu / span_count, 1),
        "observe_ms_per_trajectory_cpu": round(1000 * observe_cpu / len(trajectories), 3),
        "judge_delay_s": args.delay,
        "concurrency": args.concurrency,
        "judgements_per_s": round(len(trajectories) / wall, 1),
        "cpu_ms_per_trajectory_rules_window_call_verdict": round(1000 * path_cpu / len(trajectories), 2),
        "outcomes": dict(result.outcomes),
        "calls": result.calls,
    }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
