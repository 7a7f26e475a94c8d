"""Where a collector span's CPU goes with detectors on, in process: µs per span for each part.

    PYTHONPATH=. python bench/collector_breakdown.py [--requests 20]

The load of ``bench/collector.py`` (``collector/bench/throughput.py``'s requests: 1,000 ``execute_tool
bash`` spans each, 10 spans a trace). Parts, each the best of 3 in CPU time: protobuf decode, the span
records (``span_record``), the views (``views_from_record``), the engine without detectors (records in,
views, dedupe keys, windows), the engine with the built-in detectors inline and with the 2 s timeout's
detector thread, and each detector's share by leaving it out. The engine gets a request's 100 traces per
``process_many`` call, as ``Detect.traces`` gets a flush of traces; the row "one hand-off per trace"
shows what a call per 10-span trace would cost on the detector thread (a thread wake-up each way). Six
detectors that find nothing at once, inline and on the timeout thread, show the engine's own cost per
detector call and what the timeout's bookkeeping adds to it.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "collector" / "bench"))
sys.path.insert(0, str(ROOT / "collector"))

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest  # noqa: E402
from otel_cot_collector.span_records import span_record  # noqa: E402
from throughput import request  # noqa: E402

from otel_cot import textscan  # noqa: E402
from otel_cot.detectors import Engine  # noqa: E402
from otel_cot.detectors.registry import default_detectors  # noqa: E402
from otel_cot.detectors.views import views_from_record  # noqa: E402


def _best_us(run: Callable[[], object], spans: int, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.process_time()
        run()
        best = min(best, time.process_time() - t0)
    return best / spans * 1e6


class _Noop:
    """A detector that finds nothing at once: what remains is the engine's own cost per detector call."""

    version, categories = "1", ("x",)

    def __init__(self, det_id: str) -> None:
        self.id = det_id

    def detect(self, view: object, ctx: object) -> tuple:
        return ()


def _noops() -> list:
    return [_Noop(f"noop.{i}") for i in range(6)]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=20)
    args = ap.parse_args()
    bodies = [request(n) for n in range(args.requests)]
    n = args.requests * 1000
    decoded = [ExportTraceServiceRequest.FromString(b) for b in bodies]
    spans = [s for r in decoded for rs in r.resource_spans for ss in rs.scope_spans for s in ss.spans]
    records = [span_record(s) for s in spans]
    traces = [records[i:i + 10] for i in range(0, len(records), 10)]
    textscan.warm()

    flushes = [records[i:i + 1000] for i in range(0, len(records), 1000)]  # a request's 100 traces

    def engine(detectors: list, timeout: float | None = None, batches: list = flushes) -> float:
        def run() -> None:
            e = Engine(detectors, timeout_s=timeout)
            for batch in batches:
                e.process_many(batch)
            e.close()
        return _best_us(run, n)

    rows = {
        "protobuf decode": _best_us(lambda: [ExportTraceServiceRequest.FromString(b) for b in bodies], n),
        "span_record": _best_us(lambda: [span_record(s) for s in spans], n),
        "views_from_record": _best_us(lambda: [list(views_from_record(r)) for r in records], n),
        "engine, no detectors (views included)": engine([]),
    }
    full = rows["engine, built-in detectors inline"] = engine(default_detectors())
    rows["engine, built-in detectors, 2 s timeout thread"] = engine(default_detectors(), 2.0)
    rows["  the same, one hand-off per trace"] = engine(default_detectors(), 2.0, traces)
    rows["six no-op detectors inline"] = engine(_noops())
    rows["  the same on the 2 s timeout thread"] = engine(_noops(), 2.0)
    for detector in default_detectors():
        rest = [d for d in default_detectors() if d.id != detector.id]
        rows[f"  share of {detector.id} (left out)"] = full - engine(rest)
    print(f"# {n:,} spans, µs of CPU per span (best of 3), text-scan backend {textscan.backend_name()}")
    for name, us in rows.items():
        print(f"{name:50s} {us:7.2f}")


if __name__ == "__main__":
    main()
