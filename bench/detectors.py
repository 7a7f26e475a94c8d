"""Detector throughput: MB/s of span text per core and spans/s, with the built-in detectors.

    PYTHONPATH=. python bench/detectors.py [DATA.jsonl ...] [--repeat N]

With JSONL trajectories (the eval format) it replays their steps; without, it uses a synthetic mix of
reasoning, tool calls and tool results. Single-threaded (one core), detectors inline (no timeout
thread), so the figure is the engine's own cost.
"""

from __future__ import annotations

import argparse
import json
import random
import time

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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("data", nargs="*")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--quick", action="store_true", help="smoke mode: a few synthetic traces")
    args = ap.parse_args()
    trajectories = list(read_jsonl(args.data)) if args.data else synthetic(10 if args.quick else 400)
    prepared = [trajectory_views(t) for t in trajectories]
    chars = sum(len(v.text) for _, views in prepared for v in views)
    spans = sum(len(views) for _, views in prepared)
    engine = Engine(timeout_s=None)
    t0 = time.process_time()
    for _ in range(args.repeat):
        for tid, views in prepared:
            engine.process_views(tid, views)
            engine.end_trace(tid)
    cpu = time.process_time() - t0
    mb = chars * args.repeat / 1e6
    print(json.dumps({"trajectories": len(prepared) * args.repeat, "spans": spans * args.repeat,
                      "text_mb": round(mb, 2), "cpu_s": round(cpu, 2),
                      "mb_per_s_per_core": round(mb / cpu, 2), "spans_per_s": round(spans * args.repeat / cpu),
                      "detectors": [d.id for d in engine.detectors]}, indent=2))


if __name__ == "__main__":
    main()
