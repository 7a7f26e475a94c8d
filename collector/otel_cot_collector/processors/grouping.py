"""Trace grouping: hold a trace's spans until ``wait`` after its first span arrived, so cross-span
detectors see the trace together; bounded by trace count and total spans (oldest flushed early)."""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Callable


@dataclass
class SpanRef:
    """A span with the resource and scope it came with (shared objects within one request)."""

    resource: Any  # ResourceSpans (its resource and schema_url are reused on output)
    scope: Any  # ScopeSpans
    span: Any
    inbox_id: int


@dataclass
class Group:
    trace_id: bytes
    first_seen: float
    spans: list[SpanRef] = field(default_factory=list)


class TraceGrouper:
    def __init__(self, wait: float, max_traces: int, max_spans: int,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.wait = wait
        self.max_traces = max_traces
        self.max_spans = max_spans
        self.clock = clock
        self._groups: OrderedDict[bytes, Group] = OrderedDict()  # by first arrival
        self.span_count = 0

    @property
    def full(self) -> bool:
        return self.span_count >= self.max_spans or len(self._groups) >= self.max_traces

    def __len__(self) -> int:
        return len(self._groups)

    def add(self, ref: SpanRef) -> None:
        tid = ref.span.trace_id
        group = self._groups.get(tid)
        if group is None:
            group = self._groups[tid] = Group(tid, self.clock())
        group.spans.append(ref)
        self.span_count += 1

    def due(self, force: bool = False) -> list[Group]:
        """Groups whose wait is over, plus the oldest ones while over a bound; all of them when ``force``."""
        now = self.clock()
        out: list[Group] = []
        while self._groups:
            tid, group = next(iter(self._groups.items()))
            over = self.span_count > self.max_spans or len(self._groups) > self.max_traces
            if not (force or over or now - group.first_seen >= self.wait):
                break
            del self._groups[tid]
            self.span_count -= len(group.spans)
            out.append(group)
        return out

    def next_deadline(self) -> float | None:
        if not self._groups:
            return None
        return next(iter(self._groups.values())).first_seen + self.wait
