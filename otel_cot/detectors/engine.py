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
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Iterable, Sequence

from otel_cot import textscan

from .base import Detector, Finding, SpanView, TraceContext
from .views import WINDOW_ATTRIBUTE_CHARS, SpanRecord, dedupe_key, keyed_views

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


# a trace id, views of it, their dedupe keys, and whether the window keeps the views as they are (see keyed_views)
_Job = tuple[str, list[SpanView], list[str | None], bool]


def _big(value: Any) -> bool:
    if isinstance(value, (str, bytes)):
        return len(value) > WINDOW_ATTRIBUTE_CHARS
    if isinstance(value, (tuple, list)):
        return sum(len(v) if isinstance(v, (str, bytes)) else 8 for v in value) > WINDOW_ATTRIBUTE_CHARS
    return False


class Engine:
    """Runs ``detectors`` over spans.

    - ``max_traces`` / ``max_trace_age_s``: per-trace state is kept for at most this many traces (least
      recently used dropped first) and for at most this long since the trace was last seen (a trace gone
      stale is dropped at the next call for another trace; one seen again after that long starts afresh).
    - ``window_views`` / ``window_chars``: the size of each trace's :class:`TraceContext`. A view kept in
      that window keeps only the span attributes of at most ``WINDOW_ATTRIBUTE_CHARS`` characters each (the
      large ones are content, e.g. a chat span's whole ``gen_ai.input.messages``, that the view's text was
      read from): otherwise a trace's window would hold up to ``window_views`` spans' full attributes,
      which ``window_chars`` does not count. The view being judged has all of its span's attributes.
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
        self._last: TraceContext | None = None  # the context _context gave last (see there)
        self._lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None
        self._slim: tuple[Any, Any] = (None, None)  # the last span attributes slimmed for the window
        self._runs: tuple[tuple, dict[str, list[tuple[int, str, Any]]]] = ((), {})  # see _runs_by_kind
        textscan.warm()  # the detectors' compiled matcher, built here rather than inside a detector call

    # --- public API ---------------------------------------------------------------------------
    def process(self, record: SpanRecord) -> list[Finding]:
        """Judge one finished span; returns the findings to write onto it."""
        return self.process_many((record,))[0]

    def process_many(self, records: Sequence[SpanRecord]) -> list[list[Finding]]:
        """Judge finished spans in the given order; the findings for each, in the same order.

        The same as calling :meth:`process` on each, but with ``timeout_s`` set the whole batch goes to
        the detector thread in one hand-off (the per-call timeout still applies to every detector call).
        """
        jobs = [(r.trace_id,) + keyed_views(r) for r in records]  # (a tuple joined: ~75 ns less than unpacking)
        with self._lock:
            self.stats.spans += len(jobs)
            return self._judge(jobs)

    def process_views(self, trace_id: str, views: Iterable[SpanView]) -> list[Finding]:
        """Judge views that did not come from a span (e.g. trajectory steps)."""
        views = list(views)
        job = [(trace_id, views, [dedupe_key(view) for view in views], False)]
        with self._lock:
            return self._judge(job)[0]

    def end_trace(self, trace_id: str) -> None:
        """Forget a trace's state (when its root span ended, or a stored trace was fully read)."""
        with self._lock:
            self._traces.pop(trace_id, None)
            if self._last is not None and self._last.trace_id == trace_id:
                self._last = None

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
        ctx = self._last
        if ctx is not None and ctx.trace_id == trace_id and now - ctx.touched <= self.max_trace_age_s:
            # the trace of the previous call (spans come grouped by trace): already the most recently
            # touched; other traces gone stale meanwhile are dropped at the next call for another trace
            ctx.touched = now
            return ctx
        traces = self._traces
        if traces and now - next(iter(traces.values())).touched > self.max_trace_age_s:
            self._drop_stale(now)
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
        self._last = ctx
        return ctx

    def _drop_stale(self, now: float) -> None:
        traces = self._traces
        while traces:  # oldest-touched first
            oldest_id, oldest = next(iter(traces.items()))
            if now - oldest.touched <= self.max_trace_age_s:
                break
            del traces[oldest_id]
            self.stats.traces_evicted += 1

    def _judge(self, jobs: list[_Job]) -> list[list[Finding]]:
        """Run the detectors over ``jobs`` ((trace id, views, their dedupe keys) in order); findings per job."""
        if self.timeout_s is None:
            return self._work_inline(jobs)
        batch = _Batch(jobs)
        while True:
            progress = _Progress()
            future = self._pool().submit(self._work, batch, progress)
            if self._wait(future, batch, progress) is None:
                return batch.results
            # The stuck call is abandoned (it keeps its thread and can no longer commit anything); the
            # batch goes on from the next detector of the same view on a fresh worker (``batch.resume``).

    @staticmethod
    def _det_id(detector: Detector) -> str:
        return getattr(detector, "id", type(detector).__name__)

    def _runs_by_kind(self) -> dict[str, list[tuple[int, str, Any]]]:
        """Per view kind: ``(index, id, detect)`` of the detectors that read it, in order (a detector that
        declares kinds skips the others); kept while the detectors' ids, detect methods and kinds stay the
        ones it was made from, filled in per kind by :meth:`_run_for`."""
        signature = tuple([(getattr(d, "id", type(d).__name__), d.detect, getattr(d, "kinds", None))
                           for d in self.detectors])
        if self._runs[0] != signature:
            self._runs = (signature, {})
        return self._runs[1]

    def _run_for(self, runs: dict[str, list[tuple[int, str, Any]]], kind: str) -> list[tuple[int, str, Any]]:
        run = runs[kind] = [(index, det_id, detect) for index, (det_id, detect, reads) in enumerate(self._runs[0])
                            if reads is None or kind in reads]
        return run

    def _work_inline(self, jobs: list[_Job]) -> list[list[Finding]]:
        """``_work`` without a timeout thread: on the caller's thread, nothing to resume or race with, so
        the run's position lives in local variables (the same steps, in the same order, per view)."""
        runs = self._runs_by_kind()
        stats = self.stats
        disabled = stats.disabled
        windowed = self._windowed
        results: list[list[Finding]] = []
        for trace_id, views, keys, plain in jobs:
            ctx = self._context(trace_id)
            mark_seen = ctx.mark_seen
            add = ctx.add
            out: list[Finding] = []
            results.append(out)
            for view, key in zip(views, keys):
                if key is not None and not mark_seen(key):
                    continue
                stats.views += 1
                if not (view.text or view.tool):
                    add(view if plain else windowed(view))
                    continue
                run = runs.get(view.kind)
                if run is None:
                    run = self._run_for(runs, view.kind)
                found = len(out)
                for _, det_id, detect in run:
                    if disabled and det_id in disabled:
                        continue
                    try:
                        found_here = detect(view, ctx)
                        if found_here:
                            out.extend(found_here if type(found_here) is list else list(found_here))
                    except Exception:  # a detector bug must never cost the span
                        self._failed(det_id)
                stats.findings += len(out) - found
                add(view if plain else windowed(view))
        return results

    def _work(self, batch: "_Batch", progress: "_Progress") -> None:
        """Judge ``batch`` from ``batch.resume`` on, on the timeout thread. The run's position lives in
        local variables; each view that reaches the detectors is published in ``progress`` with a new
        cell that says which detector is running and decides who commits the view's findings: the worker,
        or the waiter abandoning a call that overran (see :class:`_Progress`)."""
        runs = self._runs_by_kind()
        stats = self.stats
        disabled = stats.disabled
        windowed = self._windowed
        jobs = batch.jobs
        outs = batch.results
        job, first_view, start, found, ctx = batch.resume
        while job < len(jobs):
            trace_id, views, keys, plain = jobs[job]
            if ctx is None:
                ctx = self._context(trace_id)
            out = outs[job]
            for at in range(first_view, len(views)):
                view = views[at]
                if start:  # resumed after the call that overran: its view's bookkeeping is done
                    run = runs.get(view.kind)
                    if run is None:
                        run = self._run_for(runs, view.kind)
                    run = [step for step in run if step[0] >= start]
                    start = 0
                else:
                    key = keys[at]
                    if key is not None and not ctx.mark_seen(key):
                        continue
                    stats.views += 1
                    if not (view.text or view.tool):
                        ctx.add(view if plain else windowed(view))
                        continue
                    run = runs.get(view.kind)
                    if run is None:
                        run = self._run_for(runs, view.kind)
                    found = []
                cell = [-1]
                progress.view = (job, at, ctx, found, cell)
                try:
                    for index, det_id, detect in run:
                        if disabled and det_id in disabled:
                            continue
                        cell[0] = index  # IndexError once the waiter has taken the view
                        try:
                            found_here = detect(view, ctx)
                            if found_here:
                                found.append((index, found_here if type(found_here) is list else list(found_here)))
                        except Exception:  # a detector bug must never cost the span
                            self._failed(det_id)
                    cell.pop()  # the view's findings are ours to commit, unless the waiter took it first
                except IndexError:  # abandoned: the waiter owns this view and resumes it on a fresh worker
                    return
                if found:
                    for _, found_here in found:
                        out.extend(found_here)
                        stats.findings += len(found_here)
                ctx.add(view if plain else windowed(view))
            job += 1
            first_view = 0
            ctx = None

    def _windowed(self, view: SpanView) -> SpanView:
        """``view`` as kept in the trace's window: without its span's large attributes (see the class)."""
        attrs = view.attributes
        if not attrs:
            return view
        src, slim = self._slim
        if attrs is not src:  # a span's views share one mapping: slim it once
            slim = None
            for value in attrs.values():
                if type(value) is str and len(value) <= WINDOW_ATTRIBUTE_CHARS:
                    continue  # nearly every attribute: decided without calling _big
                if _big(value):
                    slim = {k: v for k, v in attrs.items() if not _big(v)}
                    break
            self._slim = (attrs, slim)
        return view if slim is None else replace(view, attributes=slim)

    def _failed(self, det_id: str) -> None:
        errors = self.stats.errors
        errors[det_id] += 1
        count = errors[det_id]
        if count == 1 or count % 1000 == 0:
            logger.exception("detector %s failed (%d failures so far)", det_id, count)

    def _wait(self, future: Future, batch: "_Batch", progress: "_Progress") -> int | None:
        """Wait for a run; the index of the detector that overran, or None when the run finished.

        A call is known by its view's cell and the detector index in it (a view's cell is new, and a
        detector is called once per view, so the pair never repeats): the same pair seen for ``timeout_s``
        is a call that has run that long. It is then abandoned by taking its view's cell (see ``_work``),
        and ``batch.resume`` set to go on after it on a fresh worker."""
        timeout_s = self.timeout_s
        assert timeout_s is not None
        poll = max(timeout_s / 4, 0.001)
        monotonic = time.monotonic
        seen: tuple[Any, int, float] | None = None  # (cell, detector index, when first seen)
        wait = poll
        while True:
            try:
                future.result(timeout=wait)
                return None
            except FutureTimeout:
                pass
            now = monotonic()
            wait = poll
            current = progress.view
            if current is None:
                continue
            cell = current[4]
            try:
                index = cell[0]
            except IndexError:  # between views
                index = -1
            if index < 0:  # not in a detector call
                seen = None
                continue
            if seen is None or seen[0] is not cell or seen[1] != index:
                seen = (cell, index, now)
                continue
            left = seen[2] + timeout_s - now
            if left > 0:
                wait = min(poll, left)
                continue
            if not self._take(batch, current, index):  # the worker finished the view first and committed it
                seen = None
                continue
            self._timed_out(index)
            return index

    @staticmethod
    def _take(batch: "_Batch", current: tuple, index: int) -> bool:
        """Abandon the view ``current`` (as published in ``_Progress.view``) for the call of detector
        ``index``, if its worker has not committed it yet: then set ``batch.resume`` to go on after that
        detector, and return True."""
        job, at, ctx, found, cell = current
        try:
            cell.pop()  # the view is ours: its worker can no longer commit anything
        except IndexError:
            return False
        # The calls before the stuck one keep their findings. The worker may have gone past the stuck call
        # between the waiter's last look and the pop (that call still ran for timeout_s): it only ever
        # appends findings of later calls to ``found``, which the resumed run makes again.
        batch.resume = (job, at, index + 1, [entry for entry in list(found) if entry[0] < index], ctx)
        return True

    def _timed_out(self, index: int) -> None:
        """Blame the detector at ``index`` for a call that overran; retire the worker thread stuck in it."""
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

    def _pool(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="otel-cot-detector")
        return self._executor


class _Batch:
    """A run over a batch of views: the jobs, their findings, and where the next worker starts:
    ``resume`` is (job, view, first detector index, that view's findings so far as (detector index,
    findings) pairs, the job's trace context); a run that a timeout interrupted resumes after the
    detector that overran, with the findings of those before it."""

    __slots__ = ("jobs", "results", "resume")

    def __init__(self, jobs: list[_Job]) -> None:
        self.jobs = jobs
        self.results: list[list[Finding]] = [[] for _ in jobs]
        self.resume: tuple[int, int, int, list[tuple[int, list[Finding]]], TraceContext | None] = (0, 0, 0, [], None)


class _Progress:
    """What a worker publishes for the waiting thread: ``view`` is (job, view index, trace context, the
    view's findings so far as (detector index, findings) pairs, cell), set before the view's first
    detector call; ``cell`` is a new one-element list per view, holding the index of the detector the
    worker is in (written before each call).

    Why exactly one of worker and waiter owns each view's findings, with one list store per call:

    1. The owner is whoever takes the cell's single element (``list.pop``: atomic, one C call under the
       GIL, a per-object critical section on free-threaded builds); a second ``pop`` raises IndexError.
       The worker commits a view (its findings into the results, the counters, the trace's window) only
       after its own ``pop`` succeeded; the waiter resumes a view only after its ``pop`` succeeded.
    2. Nothing is half-committed: before its ``pop`` the worker writes only the cell and its own list of
       the view's findings; everything shared is written after it.
    3. An abandoned worker stops: once the cell is empty its next ``cell[0] = index`` or ``cell.pop()``
       raises IndexError and it returns. It calls at most one more detector (the one it may have started
       between the waiter's last look and its ``pop``), commits nothing, and publishes nothing (it
       publishes the next view only after taking this one).
    4. The waiter resumes from the right place: it read ``view`` and the cell in the same look, and the
       worker replaces ``view`` only after taking that cell, so a successful ``pop`` means the worker
       was still on that view.
    5. The blame is right: the waiter takes a view only after seeing the same (cell, index) at two looks
       ``timeout_s`` apart; a cell is new per view and a detector is called once per view, so the pair
       names one call, which has run that long. If that call returned and the worker moved on just
       before the ``pop``, it still overran: the findings of the detectors before it (entries with a
       lower index, all appended before the worker reached it) are kept, its own are dropped, and the
       detectors after it run again on the fresh worker.

    ``tests/detectors/test_engine_batch.py`` drives the interleavings of 3 and 5 step by step."""

    __slots__ = ("view",)

    def __init__(self) -> None:
        self.view: tuple[int, int, TraceContext, list[tuple[int, list[Finding]]], list[int]] | None = None
