"""Where the detectors' time goes on the collector bench's load: µs per view for each detector and view kind.

    PYTHONPATH=. python bench/collector_per_view.py [--requests 5] [--rounds 5] [--mixed]

The load of ``bench/collector.py`` (``collector/bench/throughput.py``'s requests: 1,000 ``execute_tool
bash`` spans each, 10 spans a trace; each span a tool-call view and a tool-result view), judged by the
built-in detectors inline as in ``bench/collector_breakdown.py``, with each ``detect`` call timed
(``perf_counter``; the timer adds ~0.15 µs a call). The whole-text scan of each view's text is paid by the
first detector that asks about the text, so it is also timed on its own: the compiled scan of fresh copies
of the two texts.

``--mixed``: the same span type (``execute_tool``, 10 spans a trace) with other commands, tools and outputs
instead of the bench's one ``pytest`` call: npm/go/cargo/git/rm/curl/ls/cat/grep/pytest commands, file
edits, writes and reads, and what each returns (14 shapes, drawn with a fixed seed), as records.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "collector" / "bench"))
sys.path.insert(0, str(ROOT / "collector"))

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest  # noqa: E402
from otel_cot_collector.span_records import span_record  # noqa: E402
from throughput import request  # noqa: E402

from otel_cot import textscan  # noqa: E402
from otel_cot.detectors import Engine  # noqa: E402
from otel_cot.detectors.registry import default_detectors  # noqa: E402
from otel_cot.detectors.test_talk import FAILED_RUN  # noqa: E402
from otel_cot.detectors.views import SpanRecord, views_from_record  # noqa: E402

_CODE = ("def area(w, h):\n    \"\"\"Area of a rectangle.\"\"\"\n    if w < 0 or h < 0:\n"
         "        raise ValueError('negative')\n    return w * h\n\n\nclass Shape:\n    def __init__(self, name):\n"
         "        self.name = name\n")
_TEST_OUTPUT = ("============================= test session starts ==============================\n"
                "platform linux -- Python 3.11.4, pytest-7.4.0\ncollected 12 items\n\n"
                "tests/test_area.py ........F...   [100%]\n"
                "=================================== FAILURES ===================================\n"
                "E       assert area(2, 3) == 7\nFAILED tests/test_area.py::test_area - assert 6 == 7\n"
                "1 failed, 11 passed in 0.12s\n")


def _mixed_call(i: int) -> list[tuple[str, dict, str]]:
    return [
        ("bash", {"command": f"npm test -- --watch=false src/{i}.test.js"},
         "PASS src/a.test.js\nTests: 12 passed\n"),
        ("bash", {"command": f"go test ./pkg/{i}/..."}, f"ok  \texample.com/pkg/{i}\t0.012s\n"),
        ("bash", {"command": "cargo build --release"}, "   Compiling demo v0.1.0\n    Finished release in 4.2s\n"),
        ("bash", {"command": "git status"}, "On branch main\nChanges not staged for commit:\n  modified: src/a.py\n"),
        ("bash", {"command": f"git diff src/mod_{i}.py"}, "diff --git a/src/area.py b/src/area.py\n-    return w + h\n"
                                                       "+    return w * h\n"),
        ("bash", {"command": "rm -rf build dist"}, ""),
        ("bash", {"command": f"curl -s https://api.example.com/v1/items/{i}"},
         json.dumps({"id": i, "name": "widget", "price": 9.5})),
        ("bash", {"command": f"ls -la src/pkg_{i}"}, "total 16\n-rw-r--r-- 1 user user 2048 Dec  7 area.py\n"),
        ("bash", {"command": f"cat src/area_{i}.py"}, _CODE),
        ("bash", {"command": "grep -rn 'def area' src/ | head -20"}, "src/area.py:1:def area(w, h):\n"),
        ("bash", {"command": "pytest tests/test_area.py -q"}, _TEST_OUTPUT),
        ("Edit", {"file_path": f"src/area_{i}.py", "old_string": "return w + h", "new_string": "return w * h"},
         "The file was edited."),
        ("write_file", {"path": f"src/new_{i}.py", "content": _CODE}, "Wrote 312 bytes."),
        ("read_file", {"path": f"src/area_{i}.py"}, _CODE),
    ]


def mixed_records(n: int, seed: int = 1) -> list[SpanRecord]:
    """``n`` ``execute_tool`` span records of the mixed load (see the module)."""
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        shapes = _mixed_call(i)
        tool, args, result = shapes[rnd.randrange(len(shapes))]
        attrs = {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": tool,
                 "gen_ai.tool.call.id": f"call_{i}", "gen_ai.tool.type": "function",
                 "gen_ai.tool.call.arguments": json.dumps(args),
                 "gen_ai.tool.call.result": result}
        out.append(SpanRecord.of(f"{i // 10:032x}", f"{i:016x}", f"execute_tool {tool}", attrs, 0, 0, None))
    return out


class _Timed:
    """A detector whose ``detect`` calls are timed per view kind."""

    def __init__(self, detector, totals: dict, counts: dict) -> None:
        self.detector, self.id, self.totals, self.counts = detector, detector.id, totals, counts
        if hasattr(detector, "kinds"):
            self.kinds = detector.kinds

    def detect(self, view, ctx):
        t0 = time.perf_counter()
        found = self.detector.detect(view, ctx)
        found = list(found) if found else found
        key = (self.id, view.kind)
        self.totals[key] += time.perf_counter() - t0
        self.counts[key] += 1
        return found


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--mixed", action="store_true", help="other commands, tools and outputs (see the module)")
    args = ap.parse_args()
    if args.mixed:
        records = mixed_records(args.requests * 1000)
    else:
        decoded = [ExportTraceServiceRequest.FromString(request(n)) for n in range(args.requests)]
        spans = [s for r in decoded for rs in r.resource_spans for ss in rs.scope_spans for s in ss.spans]
        records = [span_record(s) for s in spans]
    traces = [records[i:i + 10] for i in range(0, len(records), 10)]
    textscan.warm()
    totals: dict = defaultdict(float)
    counts: dict = defaultdict(int)
    for round_ in range(args.rounds + 1):
        if round_ == 1:  # the first round warms caches and specialised bytecode: not counted
            totals.clear()
            counts.clear()
        engine = Engine([_Timed(d, totals, counts) for d in default_detectors()], timeout_s=None)
        for trace in traces:
            engine.process_many(trace)
        engine.close()
    texts: dict[str, list[str]] = defaultdict(list)
    for record in records:
        for view in views_from_record(record):
            texts[view.kind].append((view.text + " ")[:-1])  # a new object: scanned afresh
    print(f"# {len(records):,} spans, {args.rounds} rounds, text-scan backend {textscan.backend_name()}")
    print(f"{'detector':28s} {'view kind':17s} µs per view")
    for key in sorted(totals, key=lambda k: -totals[k]):
        print(f"{key[0]:28s} {key[1]:17s} {totals[key] / counts[key] * 1e6:7.2f}")
    print(f"{'per span, all detectors':46s} {sum(totals.values()) / (len(records) * args.rounds) * 1e6:7.2f}")
    for kind, kind_texts in texts.items():
        t0 = time.perf_counter()
        for text in kind_texts:
            FAILED_RUN.may_match(text)  # the text's whole-text scan (any registered pattern asks for it)
        print(f"{'whole-text scan of a ' + kind + ' text':46s} "
              f"{(time.perf_counter() - t0) / len(kind_texts) * 1e6:7.2f}")


if __name__ == "__main__":
    main()
