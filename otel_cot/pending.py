"""Tool calls the model asked for and that have not run yet, so the tool span can name the call id.

A model call registers the tool calls in its response; when a tool runs in the same trace (or,
with no enclosing span, right after a model call in the same context), it claims the oldest
pending call with its name. Bounded: old traces and surplus calls are forgotten.

The process's one registry is ``otel_cot.runtime.runtime.pending``.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Iterable

from opentelemetry import trace
from opentelemetry.trace import SpanContext

MAX_TRACES = 1024
MAX_CALLS_PER_TRACE = 64


@dataclass(frozen=True, slots=True)
class PendingCall:
    name: str
    call_id: str | None
    model_span: SpanContext
    rootless: bool
    """The model call had no parent span: a tool claiming it becomes the model call's child, to share its trace."""


class PendingCalls:
    """The pending tool calls of every trace, and the trace of the latest model call made with no enclosing span."""

    __slots__ = ("_lock", "_by_trace", "_last_rootless_trace")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_trace: OrderedDict[int, deque[PendingCall]] = OrderedDict()
        # Per thread / task, as the model call's context was.
        self._last_rootless_trace: ContextVar[int | None] = ContextVar("otel_cot_last_rootless_trace", default=None)

    def register(self, model_span: SpanContext, rootless: bool, calls: Iterable[tuple[str | None, str]]) -> None:
        entries = [PendingCall(name, call_id, model_span, rootless) for call_id, name in calls if name]
        if not entries:
            return
        trace_id = model_span.trace_id
        by_trace = self._by_trace
        with self._lock:
            queue = by_trace.get(trace_id)
            if queue is None:
                queue = by_trace[trace_id] = deque(maxlen=MAX_CALLS_PER_TRACE)
            else:
                by_trace.move_to_end(trace_id)
            queue.extend(entries)
            while len(by_trace) > MAX_TRACES:
                by_trace.popitem(last=False)
        if rootless:
            self._last_rootless_trace.set(trace_id)

    def claim(self, name: str) -> PendingCall | None:
        current = trace.get_current_span().get_span_context()
        trace_id = current.trace_id if current.is_valid else self._last_rootless_trace.get()
        if trace_id is None:
            return None
        with self._lock:
            queue = self._by_trace.get(trace_id)
            if not queue:
                return None
            for call in queue:
                if call.name == name:
                    queue.remove(call)
                    return call
        return None

    def last_rootless_trace(self) -> int | None:
        """The trace of the latest model call made with no enclosing span, in this thread / task."""
        return self._last_rootless_trace.get()

    def clear(self) -> None:
        """Forget every pending call, and (in this context) the latest rootless model call's trace."""
        with self._lock:
            self._by_trace.clear()
        self._last_rootless_trace.set(None)
