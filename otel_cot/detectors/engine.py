"""The detector engine: runs detectors over spans, keeps bounded per-trace state, isolates failures.

The engine is a pure function of the spans it is given (plus its bounded state): it never touches the
OpenTelemetry SDK, so the in-process exporter, the collector, ``otel-cot scan`` and ``otel-cot eval`` all
drive the same object.

    engine = Engine()                      # the built-in detectors
    findings = engine.process(record)      # one finished span (a SpanRecord); findings for that span
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import Callable, Iterable, Sequence

from .base import Detector, Finding, SpanView, TraceContext
from .views import SpanRecord, dedupe_key, views_from_record

logger = logging.getLogger("otel_cot.detectors")


@dataclass
class EngineStats:
    """Counters, for self-metrics and for the CLI."""

    spans: int = 0
    views: int = 0
    findings: int = 0
    traces_evicted: int = 0
    errors: Counter = field(default_factory=Counter)  # detector id -> exceptions raised
    timeouts: Counter = field(default_factory=Counter)  # detector id -> calls that overran
    disabled: set = field(default_factory=set)  # detector ids switched off after repeated timeouts


class Engine:
    """Runs ``detectors`` over spans.

    - ``max_traces`` / ``max_trace_age_s``: per-trace state is kept for at most this many traces (least
      recently used dropped first) and for at most this long since the trace was last seen.
    - ``window_views`` / ``window_chars``: the size of each trace's :class:`TraceContext`.
    - ``timeout_s``: a detector call that runs longer is abandoned (its findings are lost, the span is not);
      ``None`` runs detectors inline on the caller's thread with no timeout (fastest; for trusted
      detectors and offline runs). After ``max_timeouts`` overruns a detector is disabled.
    """

    def __init__(
        self,
        detectors: Sequence[Detector] | None = None,
        *,
        max_traces: int = 10_000,
        max_trace_age_s: float = 600.0,
        window_views: int = 64,
        window_chars: int = 200_000,
        timeout_s: float | None = 2.0,
        max_timeouts: int = 3,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if detectors is None:
            from .registry import default_detectors

            detectors = default_detectors()
        self.detectors: list[Detector] = list(detectors)
        self.max_traces = max_traces
        self.max_trace_age_s = max_trace_age_s
        self.window_views = window_views
        self.window_chars = window_chars
        self.timeout_s = timeout_s
        self.max_timeouts = max_timeouts
        self.clock = clock
        self.stats = EngineStats()
        self._traces: OrderedDict[str, TraceContext] = OrderedDict()
        self._lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None

    # --- public API ---------------------------------------------------------------------------
    def process(self, record: SpanRecord) -> list[Finding]:
        """Judge one finished span; returns the findings to write onto it."""
        with self._lock:
            self.stats.spans += 1
            return self._process_views(record.trace_id, views_from_record(record))

    def process_views(self, trace_id: str, views: Iterable[SpanView]) -> list[Finding]:
        """Judge views that did not come from a span (e.g. trajectory steps)."""
        with self._lock:
            return self._process_views(trace_id, views)

    def end_trace(self, trace_id: str) -> None:
        """Forget a trace's state (when its root span ended, or a stored trace was fully read)."""
        with self._lock:
            self._traces.pop(trace_id, None)

    @property
    def trace_count(self) -> int:
        return len(self._traces)

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False)
            self._executor = None

    # --- internals ----------------------------------------------------------------------------
    def _context(self, trace_id: str) -> TraceContext:
        now = self.clock()
        traces = self._traces
        while traces:  # oldest-touched first: drop the stale ones
            oldest_id, oldest = next(iter(traces.items()))
            if now - oldest.touched <= self.max_trace_age_s:
                break
            del traces[oldest_id]
            self.stats.traces_evicted += 1
        ctx = traces.get(trace_id)
        if ctx is None:
            ctx = TraceContext(trace_id, max_views=self.window_views, max_chars=self.window_chars, now=now)
            traces[trace_id] = ctx
            while len(traces) > self.max_traces:
                traces.popitem(last=False)
                self.stats.traces_evicted += 1
        else:
            traces.move_to_end(trace_id)
        ctx.touched = now
        return ctx

    def _process_views(self, trace_id: str, views: Iterable[SpanView]) -> list[Finding]:
        ctx = self._context(trace_id)
        out: list[Finding] = []
        for view in views:
            key = dedupe_key(view)
            if key is not None and not ctx.mark_seen(key):
                continue
            self.stats.views += 1
            if view.text or view.tool:
                out.extend(self._run(view, ctx))
            ctx.add(view)
        self.stats.findings += len(out)
        return out

    def _run(self, view: SpanView, ctx: TraceContext) -> list[Finding]:
        if self.timeout_s is None:
            return self._run_all(view, ctx, [], _Progress(), 0)
        findings: list[Finding] = []
        first = 0
        while True:
            progress = _Progress()
            future = self._pool().submit(self._run_all, view, ctx, findings, progress, first)
            stuck = self._wait(future, progress)
            if stuck is None:
                return findings
            # Abandon the stuck call (it keeps its thread, and writes into a list we no longer read);
            # run the remaining detectors on a fresh worker.
            findings = [f for f in findings if f.detector_id != self._det_id(self.detectors[stuck])]
            first = stuck + 1
            if first >= len(self.detectors):
                return findings
            findings = list(findings)

    @staticmethod
    def _det_id(detector: Detector) -> str:
        return getattr(detector, "id", type(detector).__name__)

    def _run_all(self, view: SpanView, ctx: TraceContext, found: list[Finding], progress: "_Progress",
                 first: int) -> list[Finding]:
        for index in range(first, len(self.detectors)):
            if progress.abandoned:
                return found
            detector = self.detectors[index]
            det_id = self._det_id(detector)
            if det_id in self.stats.disabled:
                continue
            progress.index, progress.started = index, time.monotonic()
            try:
                results = list(detector.detect(view, ctx) or ())
            except Exception:  # a detector bug must never cost the span
                self.stats.errors[det_id] += 1
                n = self.stats.errors[det_id]
                if n == 1 or n % 1000 == 0:
                    logger.exception("detector %s failed (%d failures so far)", det_id, n)
                continue
            if not progress.abandoned:
                found.extend(results)
        progress.index = -1
        return found

    def _wait(self, future: Future, progress: "_Progress") -> int | None:
        """Wait for a run; the index of the detector that overran, or None when the run finished."""
        assert self.timeout_s is not None
        poll = max(self.timeout_s / 4, 0.001)
        while True:
            try:
                future.result(timeout=poll)
                return None
            except FutureTimeout:
                index, started = progress.index, progress.started
                if index < 0 or time.monotonic() - started < self.timeout_s:
                    continue
                progress.abandoned = True
                det_id = self._det_id(self.detectors[index])
                self.stats.timeouts[det_id] += 1
                logger.warning("detector %s timed out after %.2fs; its findings for this span are dropped",
                               det_id, self.timeout_s)
                if self.stats.timeouts[det_id] >= self.max_timeouts:
                    self.stats.disabled.add(det_id)
                    logger.error("detector %s disabled after %d timeouts", det_id, self.max_timeouts)
                if self._executor is not None:
                    self._executor.shutdown(wait=False)
                    self._executor = None
                return index

    def _pool(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="otel-cot-detector")
        return self._executor


class _Progress:
    """Where a detector run is, read by the waiting thread to blame the detector that overran."""

    __slots__ = ("index", "started", "abandoned")

    def __init__(self) -> None:
        self.index = -1
        self.started = 0.0
        self.abandoned = False
