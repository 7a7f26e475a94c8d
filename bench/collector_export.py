"""The collector's export path in process, CPU µs a span: parse -> SpanRefs -> ``request_of`` (spans with
their received bytes where the checkout has ``span_wires``), and ``Pipeline.step`` over queued requests.

    PYTHONPATH=.:collector python bench/collector_export.py [--requests 20]
    # another checkout, same script: cd EXPORT && PYTHONPATH=EXPORT:EXPORT/collector python /path/to/this

The load of ``bench/collector.py`` (``collector/bench/throughput.py``'s 1,000-span requests). ``step``
queues the requests with their decoded form, as the receiver does, and steps the pipeline until the outbox
has them: ``off`` is ``group_by_trace`` alone, ``on`` adds ``detect`` (2 s timeout) and ``sampling``.
Each figure is the best of several runs.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

ROOT = os.path.abspath(os.getcwd())  # the checkout measured: the one on PYTHONPATH
sys.path.insert(0, os.path.join(ROOT, "collector", "bench"))
sys.path.insert(0, os.path.join(ROOT, "collector", "tests"))

from inprocess_support import config  # noqa: E402
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest  # noqa: E402
from otel_cot_collector.config import parse  # noqa: E402
from otel_cot_collector.pipeline import Pipeline  # noqa: E402
from otel_cot_collector.processors.grouping import SpanRef, request_of  # noqa: E402
from otel_cot_collector.store import Store  # noqa: E402
from otel_cot_collector.telemetry import Metrics  # noqa: E402
from throughput import request  # noqa: E402

if os.path.exists(os.path.join(ROOT, "collector", "otel_cot_collector", "span_wires.py")):
    from otel_cot_collector.span_wires import span_wires
else:  # a checkout from before span_wires
    span_wires = None


def frame(datas: list[bytes]) -> None:
    for data in datas:
        req = ExportTraceServiceRequest.FromString(data)
        wires = span_wires(data) if span_wires is not None else None
        spans = [(rs, ss, s) for rs in req.resource_spans for ss in rs.scope_spans for s in ss.spans]
        if wires is None:
            refs = [SpanRef(rs, ss, s, 1) for rs, ss, s in spans]
        else:
            refs = [SpanRef(rs, ss, s, 1, w) for (rs, ss, s), w in zip(spans, wires)]
        request_of(refs)


def step(datas: list[bytes], processors: list[str]) -> float:
    with tempfile.TemporaryDirectory() as directory:
        cfg = parse(config(directory, traces=processors, processors={
            "group_by_trace": {"wait_duration": "0s"}, "detect": {"timeout": 2}, "sampling": {}}))
        store = Store(directory, cfg.queue.max_bytes)
        try:
            pipeline = Pipeline(cfg, store, Metrics())
            for future in [store.append(1, data, ExportTraceServiceRequest.FromString(data)) for data in datas]:
                future.result(timeout=60)
            started = time.process_time()
            while store.counts()[0]:
                pipeline.step(force=True)
            return time.process_time() - started
        finally:
            store.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=20)
    args = ap.parse_args()
    datas = [request(i) for i in range(args.requests)]
    spans = args.requests * 1000
    best = min(_timed(frame, datas) for _ in range(7))
    print(f"{os.path.basename(ROOT)}: parse + refs + request_of {best / spans * 1e6:.2f} µs a span")
    for mode, processors in (("off", ["group_by_trace"]), ("on", ["group_by_trace", "detect", "sampling"])):
        best = min(step(datas, processors) for _ in range(5))
        print(f"{os.path.basename(ROOT)}: Pipeline.step {mode} {best / spans * 1e6:.2f} µs a span")


def _timed(fn, *args) -> float:
    started = time.process_time()
    fn(*args)
    return time.process_time() - started


if __name__ == "__main__":
    main()
