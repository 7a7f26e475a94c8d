"""Tool calls the model asked for and that have not run yet, so the tool span can name the call id.

A model call registers the tool calls in its response; when a tool runs in the same trace (or,
with no enclosing span, right after a model call in the same context), it claims the oldest
pending call with its name. Bounded: old traces and surplus calls are forgotten.
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


_lock = threading.Lock()
_by_trace: OrderedDict[int, deque[PendingCall]] = OrderedDict()
# The trace of the latest model call made with no enclosing span, in this thread / task.
_last_rootless_trace: ContextVar[int | None] = ContextVar("otel_cot_last_rootless_trace", default=None)


def register(model_span: SpanContext, rootless: bool, calls: Iterable[tuple[str | None, str]]) -> None:
    entries = [PendingCall(name, call_id, model_span, rootless) for call_id, name in calls if name]
    if not entries:
        return
    trace_id = model_span.trace_id
    with _lock:
        queue = _by_trace.get(trace_id)
        if queue is None:
            queue = _by_trace[trace_id] = deque(maxlen=MAX_CALLS_PER_TRACE)
        else:
            _by_trace.move_to_end(trace_id)
        queue.extend(entries)
        while len(_by_trace) > MAX_TRACES:
            _by_trace.popitem(last=False)
    if rootless:
        _last_rootless_trace.set(trace_id)


def claim(name: str) -> PendingCall | None:
    current = trace.get_current_span().get_span_context()
    trace_id = current.trace_id if current.is_valid else _last_rootless_trace.get()
    if trace_id is None:
        return None
    with _lock:
        queue = _by_trace.get(trace_id)
        if not queue:
            return None
        for call in queue:
            if call.name == name:
                queue.remove(call)
                return call
    return None


def clear() -> None:
    with _lock:
        _by_trace.clear()
