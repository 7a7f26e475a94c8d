"""What the guard knows about each trace so far: a bounded ``TraceContext`` per trace, fed as spans finish.

The engine judges a span once it has ended and is exported, which is too late to stop a tool call. So
the instrumentation hands the guard what a model call read and returned (and what each tool returned)
as it happens; the views are built by the same :mod:`otel_cot.detectors.views` code from plain values,
queued, and run through the detectors lazily — on the next check in that trace — so that a process whose
agent never calls a guarded tool pays for a queue append, and detectors fill ``ctx.memo`` in order.

Tool calls the model asked for are not judged from the model call's output: each is judged once, as the
pending call, when it is checked (judging it twice would double-count what detectors remember).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from typing import Callable, Iterable, Sequence

from ..detectors.base import KIND_TOOL_CALL, Detector, Finding, SpanView, TraceContext
from ..detectors.views import SpanRecord, dedupe_key, views_from_record


class GuardTimeout(Exception):
    """The guard's time budget ran out before every detector had judged the call."""


class DetectorFailed(Exception):
    """A detector raised while judging the pending call (the check is incomplete)."""


class _Window:
    __slots__ = ("ctx", "backlog")

    def __init__(self, ctx: TraceContext, max_backlog: int) -> None:
        self.ctx = ctx
        self.backlog: deque[tuple[SpanRecord | SpanView, bool]] = deque(maxlen=max_backlog)


def judge(detectors: Sequence[Detector], view: SpanView, ctx: TraceContext, deadline: float,
          strict: bool) -> list[Finding]:
    """Every detector's findings on ``view``; past ``deadline`` (perf_counter) raises ``GuardTimeout``.

    ``strict``: a detector that raises fails the check (``DetectorFailed``); otherwise it is skipped.
    """
    out: list[Finding] = []
    kind = view.kind
    for detector in detectors:
        kinds = getattr(detector, "kinds", None)
        if kinds is not None and kind not in kinds:  # it reads no view of this kind (see Detector)
            continue
        if time.perf_counter() > deadline:
            raise GuardTimeout(f"guard time budget spent before detector {getattr(detector, 'id', detector)}")
        try:
            out.extend(detector.detect(view, ctx) or ())
        except Exception as exc:
            if strict:
                raise DetectorFailed(f"detector {getattr(detector, 'id', type(detector).__name__)} failed: "
                                     f"{type(exc).__name__}: {exc}") from exc
    return out


class Recorder:
    """Per-trace windows, bounded like the engine's: traces (LRU), age, views and characters per trace."""

    def __init__(self, detectors: Sequence[Detector], *, max_traces: int = 1024, max_trace_age_s: float = 600.0,
                 window_views: int = 64, window_chars: int = 200_000, max_backlog: int = 256,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.detectors = list(detectors)
        self.max_traces = max_traces
        self.max_trace_age_s = max_trace_age_s
        self.window_views = window_views
        self.window_chars = window_chars
        self.max_backlog = max_backlog
        self.clock = clock
        self.lock = threading.Lock()
        self._traces: OrderedDict[int, _Window] = OrderedDict()

    @property
    def trace_count(self) -> int:
        return len(self._traces)

    def add_record(self, trace_id: int, record: SpanRecord) -> None:
        """A finished model call (its input and output messages); judged lazily."""
        with self.lock:
            self._window(trace_id).backlog.append((record, True))

    def add_view(self, trace_id: int, view: SpanView) -> None:
        with self.lock:
            self._window(trace_id).backlog.append((view, False))

    def context(self, trace_id: int, deadline: float) -> TraceContext:
        """The trace's window with everything queued judged into it. Call with ``lock`` held."""
        window = self._window(trace_id)
        ctx = window.ctx
        backlog = window.backlog
        while backlog:
            item, from_model = backlog[0]
            views: Iterable[SpanView] = views_from_record(item) if isinstance(item, SpanRecord) else (item,)
            for view in views:
                if from_model and view.kind == KIND_TOOL_CALL:
                    continue
                key = dedupe_key(view)
                if key is not None and not ctx.mark_seen(key):
                    continue
                if view.text or view.tool:
                    judge(self.detectors, view, ctx, deadline, strict=False)
                ctx.add(view)
            backlog.popleft()
        return ctx

    def catch_up(self, trace_id: int, deadline: float) -> int:
        """Judge what is queued for the trace until ``deadline`` (perf_counter), outside any check's budget; what
        is still queued then is dropped. For callers that add much history at once (the coding-agent hooks read a
        session's transcript): otherwise the next check spends its budget on the history, times out, and
        ``on_error`` decides the pending call. Returns how many queued items were dropped."""
        with self.lock:
            try:
                self.context(trace_id, deadline)
                return 0
            except GuardTimeout:
                backlog = self._window(trace_id).backlog
                dropped = len(backlog)
                backlog.clear()
                return dropped

    def _window(self, trace_id: int) -> _Window:
        now = self.clock()
        traces = self._traces
        while traces:
            oldest_id, oldest = next(iter(traces.items()))
            if now - oldest.ctx.touched <= self.max_trace_age_s:
                break
            del traces[oldest_id]
        window = traces.get(trace_id)
        if window is None:
            ctx = TraceContext(format(trace_id, "032x"), max_views=self.window_views, max_chars=self.window_chars,
                               now=now)
            window = traces[trace_id] = _Window(ctx, self.max_backlog)
            while len(traces) > self.max_traces:
                traces.popitem(last=False)
        else:
            traces.move_to_end(trace_id)
        window.ctx.touched = now
        return window
