"""The ``group_by_trace`` processor: hold a trace's spans until ``wait`` after its first span arrived, so
cross-span detectors see the trace together; bounded by trace count and total spans (oldest flushed
early). It is the stage that decides when a trace leaves: the processors after it get whole groups."""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass, field
from itertools import repeat
from typing import TYPE_CHECKING, Any, Callable, Iterable

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from ..config_parsing import Section, duration, integer
from ..registry import Factory, ProcessorContext

if TYPE_CHECKING:
    from otel_cot.detectors import Finding


@dataclass(slots=True)  # many of them are held: no per-instance dict for the garbage collector to walk
class SpanRef:
    """A span with the resource and scope it came with (shared objects within one request), and ``wire``:
    the bytes it was parsed from, exported as they are while set (:func:`request_of`). Whatever changes
    ``span`` must set ``wire`` to None first; the pipeline does so for every span it hands a processor
    whose factory does not declare otherwise (``Factory.span_writes``)."""

    resource: Any  # ResourceSpans (its resource and schema_url are reused on output)
    scope: Any  # ScopeSpans
    span: Any
    inbox_id: int
    wire: bytes | None = None


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

    def add_spans(self, resource: Any, scope: Any, spans: Iterable[Any], inbox_id: int,
                  wires: Iterable[bytes | None] | None = None) -> None:
        """:meth:`add` for each span of one ScopeSpans (``scope``, in ``resource``) of inbox row
        ``inbox_id``, in one loop, with ``wires`` (each span's received bytes, in step with ``spans``) as
        their ``wire``; ``span_count`` counts each span as it is added."""
        groups = self._groups
        clock = self.clock
        added = 0
        try:
            for span, wire in zip(spans, repeat(None) if wires is None else wires):
                tid = span.trace_id
                group = groups.get(tid)
                if group is None:
                    group = groups[tid] = Group(tid, clock())
                group.spans.append(SpanRef(resource, scope, span, inbox_id, wire))
                added += 1
        finally:
            self.span_count += added

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
                  signals=("traces",), first=True, span_writes="none")


def _varint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _head(number: int, length: int) -> bytes:
    """The tag of length-delimited field ``number`` and ``length`` as a varint: what precedes its payload."""
    return bytes(((number << 3) | 2,)) + _varint(length)


class _SpanHeads(dict):
    """Payload length -> the head of a ScopeSpans.spans field of that length; at most 65,536 kept."""

    def __missing__(self, length: int) -> bytes:
        head = _head(2, length)
        if len(self) < 65536:
            self[length] = head
        return head


_SPAN_HEADS = _SpanHeads()


def _framed(number: int, payload: bytes) -> list[bytes]:
    return [_head(number, len(payload)), payload]


def _scope_spans(scope: Any, refs: list[SpanRef]) -> list[bytes]:
    """The parts of a ScopeSpans message's payload (joined, they are its serialization): each span's
    received bytes where it has them, else its serialization."""
    data = [ref.wire or ref.span.SerializeToString() for ref in refs]
    parts: list[Any] = [None] * (2 * len(data))
    parts[0::2] = map(_SPAN_HEADS.__getitem__, map(len, data))
    parts[1::2] = data
    parts[:0] = _framed(1, scope.scope.SerializeToString())
    if scope.schema_url:
        parts += _framed(3, scope.schema_url.encode())
    return parts


def request_of(refs: list[SpanRef]) -> bytes:
    """One serialized ExportTraceServiceRequest for ``refs``, keeping each span with its original resource
    and scope: the bytes ``ExportTraceServiceRequest`` would give for resource_spans {resource, schema_url,
    scope_spans {scope, schema_url, spans}} (a differential test holds them equal; parsed-equal where a
    span is framed from its received ``wire``), framed here from each message's own serialization (or a
    span's received bytes), so the spans are not copied into a new request first. The nested messages'
    lengths are summed from their parts, so the request is joined once (not once per nesting level)."""
    by_resource: dict[int, tuple[Any, dict[int, tuple[Any, list[SpanRef]]]]] = {}
    resource = scope = spans = None
    for ref in refs:
        if ref.scope is not scope or ref.resource is not resource:  # refs of one scope mostly come in a row
            resource, scope = ref.resource, ref.scope
            entry = by_resource.get(id(resource))
            if entry is None:
                entry = by_resource[id(resource)] = (resource, {})
            scoped = entry[1].get(id(scope))
            if scoped is None:
                scoped = entry[1][id(scope)] = (scope, [])
            spans = scoped[1]
        spans.append(ref)  # type: ignore[union-attr]
    out: list[bytes] = []
    for rs, scopes in by_resource.values():
        body = _framed(1, rs.resource.SerializeToString())
        for ss, scope_spans in scopes.values():
            parts = _scope_spans(ss, scope_spans)
            body.append(_head(2, sum(map(len, parts))))
            body += parts
        if rs.schema_url:
            body += _framed(3, rs.schema_url.encode())
        out.append(_head(1, sum(map(len, body))))
        out += body
    return b"".join(out)
