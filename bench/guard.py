"""Guard latency: how long ``check_tool_call`` holds a tool call, with the built-in detectors.

    PYTHONPATH=. python bench/guard.py [--calls N]

Three figures, per tool call, on one core:
- ``check``: the pending call alone (the trace's history already judged);
- ``step``: a realistic agent step — a model call's reasoning (~2 KB), answer text and the previous tool's
  result (~4 KB) handed to the guard as the model call finishes, then the check, which first judges
  that backlog (the per-trace window is fed lazily);
- ``off``: the instrumentation hooks with no guard configured.
The decision is written onto a real SDK span (a TracerProvider with no processor).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time

from opentelemetry.sdk.trace import TracerProvider

from otel_cot import check_tool_call
from otel_cot.guard import configure
from otel_cot.instrumentation import guard_hooks

CALLS = [
    ("bash", {"command": "pytest -q tests/test_parser.py -x"}),
    ("bash", {"command": "git status && git diff --stat"}),
    ("bash", {"command": "rm -rf ./build dist"}),
    ("bash", {"command": "git push --force origin main"}),
    ("edit_file", {"path": "src/parser.py", "old_str": "return None\n", "new_str": "return default\n"}),
    ("edit_file", {"path": "tests/test_parser.py", "old_str": "    assert parse('1') == 1\n", "new_str": "    pass\n"}),
    ("write_file", {"path": "src/big.py", "content": "x = 1\n" * 2000}),  # 12 KB of arguments
    ("read_file", {"path": "README.md"}),
]
POLICY = {"categories": {"destructive_action": "block", "reward_hacking": {"high": "block", "medium": "ask"}},
          "ask": lambda request: True, "workspace": ".", "allow": {"commands": ["git push origin *"]}}


def _prose(rnd: random.Random, chars: int) -> str:
    words = "the test passes value config file user request tool output result function return parser".split()
    out: list[str] = []
    while sum(len(w) + 1 for w in out) < chars:
        out.append(rnd.choice(words))
    return " ".join(out)


def _pct(samples: list[float], q: float) -> float:
    return sorted(samples)[min(len(samples) - 1, int(q * len(samples)))]


def _report(name: str, samples_ms: list[float]) -> None:
    print(f"{name:6s} n={len(samples_ms):6d}  mean {statistics.fmean(samples_ms) * 1000:7.1f} µs  "
          f"p50 {_pct(samples_ms, 0.5) * 1000:7.1f} µs  p99 {_pct(samples_ms, 0.99) * 1000:7.1f} µs  "
          f"max {max(samples_ms) * 1000:7.1f} µs")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--quick", action="store_true", help="smoke mode: 200 calls")
    args = parser.parse_args()
    if args.quick:
        args.calls = 200
    rnd = random.Random(7)
    tracer = TracerProvider().get_tracer("bench")
    guard = configure(POLICY)
    assert guard is not None

    for name, arguments in CALLS * 50:  # warm up (regex caches, first-trace allocations)
        check_tool_call(name, arguments, span=tracer.start_span("warm"))

    check: list[float] = []
    by_call: dict[int, list[float]] = {}
    step: list[float] = []
    with tracer.start_as_current_span("agent"):
        for i in range(args.calls):
            name, arguments = CALLS[i % len(CALLS)]
            span = tracer.start_span(f"execute_tool {name}")
            t = time.perf_counter()
            check_tool_call(name, arguments, span=span)
            check.append((time.perf_counter() - t) * 1000)
            by_call.setdefault(i % len(CALLS), []).append(check[-1])
            span.end()
    for i in range(args.calls // 4):
        root = tracer.start_span("agent")  # a new trace every 20 steps, so windows fill and are evicted
        if i % 20 == 0:
            agent = root
        name, arguments = CALLS[i % len(CALLS)]
        model = tracer.start_span("chat", context=None)
        inputs = [{"role": "tool", "parts": [{"type": "tool_call_response", "id": f"c{i}",
                                              "response": _prose(rnd, 4000)}]}]
        outputs = [{"role": "assistant", "parts": [
            {"type": "reasoning", "content": _prose(rnd, 2000)}, {"type": "text", "content": _prose(rnd, 200)},
            {"type": "tool_call", "id": f"c{i + 1}", "name": name, "arguments": arguments}]}]
        span = tracer.start_span(f"execute_tool {name}")
        t = time.perf_counter()
        guard_hooks.observe_model_call(agent, inputs, outputs)
        check_tool_call(name, arguments, span=span, call_id=f"c{i + 1}")
        step.append((time.perf_counter() - t) * 1000)
        span.end(), model.end(), root.end()

    configure(None)
    off: list[float] = []
    span = tracer.start_span("x")
    for _ in range(args.calls):
        t = time.perf_counter()
        guard_hooks.observe_model_call(span, None, None)
        guard_hooks.observe_tool_result(span, "ok", False)
        off.append((time.perf_counter() - t) * 1000)
    for index, samples in sorted(by_call.items()):
        name, arguments = CALLS[index]
        print(f"  {name:10s} {len(json.dumps(arguments)):6d} B of arguments  p50 {_pct(samples, 0.5) * 1000:7.1f} µs")
    _report("check", check)
    _report("step", step)
    _report("off", off)
    print(json.dumps({"detectors": [d.id for d in guard.recorder.detectors]}))


if __name__ == "__main__":
    main()
