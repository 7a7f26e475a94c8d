"""The ``group_by_trace`` processor: hold a trace's spans until ``wait`` after its first span arrived, so
cross-span detectors see the trace together; bounded by trace count and total spans (oldest flushed
early). It is the stage that decides when a trace leaves: the processors after it get whole groups."""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from ..config_parsing import Section, duration, integer
from ..registry import Factory, ProcessorContext

if TYPE_CHECKING:
    from otel_cot.detectors import Finding


@dataclass(slots=True)  # many of them are held: no per-instance dict for the garbage collector to walk
class SpanRef:
    """A span with the resource and scope it came with (shared objects within one request)."""

    resource: Any  # ResourceSpans (its resource and schema_url are reused on output)
    scope: Any  # ScopeSpans
    span: Any
    inbox_id: int


@dataclass(slots=True)
class Group:
    """One trace's spans as they leave grouping, and what the processors after it found: ``findings``
    newly written on it, ``flagged`` (a span of it carries a finding, now or from an earlier pass),
    ``added`` (spans a processor made, e.g. ``cot.finding`` spans, exported after the trace's own)."""

    trace_id: bytes
    first_seen: float
    spans: list[SpanRef] = field(default_factory=list)
    added: list[SpanRef] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    flagged: bool = False


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


@dataclass
class GroupByTraceConfig:
    wait: float = 2.0
    max_traces: int = 10_000
    max_spans: int = 200_000


def parse(s: Section, d: GroupByTraceConfig) -> GroupByTraceConfig:
    return GroupByTraceConfig(wait=s.get("wait_duration", d.wait, duration),
                              max_traces=s.get("num_traces", d.max_traces, integer(1)),
                              max_spans=s.get("max_spans", d.max_spans, integer(1)))


def create(cfg: GroupByTraceConfig, ctx: ProcessorContext) -> TraceGrouper:
    return TraceGrouper(cfg.wait, cfg.max_traces, cfg.max_spans)


factory = Factory(kind="processor", type="group_by_trace", config=GroupByTraceConfig, parse=parse, create=create,
                  signals=("traces",), first=True)


def request_of(refs: list[SpanRef]) -> bytes:
    """One ExportTraceServiceRequest for ``refs``, keeping each span with its original resource and scope."""
    by_resource: dict[int, tuple[Any, dict[int, tuple[Any, list[Any]]]]] = {}
    for ref in refs:
        entry = by_resource.setdefault(id(ref.resource), (ref.resource, {}))
        entry[1].setdefault(id(ref.scope), (ref.scope, []))[1].append(ref.span)
    req = ExportTraceServiceRequest()
    for rs, scopes in by_resource.values():
        out_rs = req.resource_spans.add(schema_url=rs.schema_url)
        out_rs.resource.CopyFrom(rs.resource)
        for ss, spans in scopes.values():
            out_ss = out_rs.scope_spans.add(schema_url=ss.schema_url)
            out_ss.scope.CopyFrom(ss.scope)
            out_ss.spans.extend(spans)
    return req.SerializeToString()

