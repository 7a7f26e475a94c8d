"""Where the detectors' time goes on the collector bench's load: µs per view for each detector and view kind.

    PYTHONPATH=. python bench/collector_per_view.py [--requests 5] [--rounds 5]

The load of ``bench/collector.py`` (``collector/bench/throughput.py``'s requests: 1,000 ``execute_tool
bash`` spans each, 10 spans a trace; each span a tool-call view and a tool-result view), judged by the
built-in detectors inline as in ``bench/collector_breakdown.py``, with each ``detect`` call timed
(``perf_counter``; the timer adds ~0.15 µs a call). The whole-text scan of each view's text is paid by the
first detector that asks about the text, so it is also timed on its own: the compiled scan of fresh copies
of the two texts.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "collector" / "bench"))
sys.path.insert(0, str(ROOT / "collector"))

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest  # noqa: E402
from otel_cot_collector.processors.detect import span_record  # noqa: E402
from throughput import request  # noqa: E402

from otel_cot import textscan  # noqa: E402
from otel_cot.detectors import Engine  # noqa: E402
from otel_cot.detectors.registry import default_detectors  # noqa: E402
from otel_cot.detectors.test_talk import FAILED_RUN  # noqa: E402
from otel_cot.detectors.views import views_from_record  # noqa: E402


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
    args = ap.parse_args()
    spans = [s for n in range(args.requests) for rs in ExportTraceServiceRequest.FromString(request(n)).resource_spans
             for ss in rs.scope_spans for s in ss.spans]
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
