"""Judging finished spans and placing the findings: the one algorithm behind the in-process exporter
(:mod:`otel_cot.detectors.exporter`, SDK spans) and the collector's ``detect`` processor (OTLP protobuf
spans). Each side only says how to read its spans (:class:`SpanAccess`) and how to write a finding on
them (see ``docs/architecture.md`` "Findings").

1. Each group (a trace, or an export batch) is judged in the order its spans ended: a reasoning span ends
   before its model call, a model call before the tool it asked for runs. All groups go to the engine in
   one call (one hand-off to its detector thread).
2. When that call fails (a span that cannot be read), the groups are judged one by one. A group that
   still fails gets its exception as its result, or, with ``skip_unreadable``, is judged span by span,
   skipping (and reporting) the spans that cannot be read.
3. The findings are placed: on the span of the group they are about (a finding without a span id is
   about the span being judged), or, when that span is not in the group (it left with an earlier
   batch), as findings about a span no longer held, which the caller exports as a ``cot.finding``
   child span of it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Generic, Mapping, Protocol, Sequence, TypeVar

from otel_cot import semconv

from .base import Finding
from .engine import Engine
from .views import SpanRecord

S = TypeVar("S")


class SpanAccess(Protocol[S]):
    """How to read one kind of span."""

    def record(self, span: S) -> SpanRecord:
        """The engine's view of ``span``; may raise for a span that cannot be read."""

    def order(self, span: S) -> tuple[int, int]:
        """``(end, start)`` in ns: spans are judged in this order."""

    def span_id(self, span: S) -> str:
        """The span id as lowercase hex, as findings name it."""


@dataclass
class Placed(Generic[S]):
    """One group's findings. ``held``: each span of the group that gets findings, with them (in the order
    they were found). ``gone``: ``(span id, the span whose judging found them, findings)`` for each span
    not in the group that findings are about. ``flagged``: a span of the group got a finding now or
    already carried ``cot.flagged`` (from an earlier pass)."""

    held: list[tuple[S, list[Finding]]] = field(default_factory=list)
    gone: list[tuple[str, S, list[Finding]]] = field(default_factory=list)
    flagged: bool = False


def is_flagged(attributes: Mapping[str, Any]) -> bool:
    """Whether span or log-record ``attributes`` say an earlier pass flagged it."""
    return bool(attributes.get(_FLAGGED))


_FLAGGED = semconv.COT_FLAGGED


def judge(engine: Engine, groups: Sequence[Sequence[S]], access: SpanAccess[S],
          skip_unreadable: Callable[[S, Exception], None] | None = None) -> list[Placed[S] | Exception]:
    """Judge ``groups`` and place their findings; per group, its :class:`Placed` or the exception that
    stopped it (never raised). Without ``skip_unreadable`` a group with a span that cannot be judged
    fails as a whole; with it, that span is skipped and reported to ``skip_unreadable``."""
    orders = [sorted(group, key=access.order) for group in groups]
    out: list[Placed[S] | Exception] = []
    for order, judged in zip(orders, _judge(engine, orders, access, skip_unreadable)):
        out.append(judged if isinstance(judged, Exception) else _place(order, *judged, access))
    return out


_Judged = tuple[list[list[Finding]], list[SpanRecord | None]]  # findings and record per span, in order


def _judge(engine: Engine, orders: list[list[S]], access: SpanAccess[S],
           skip: Callable[[S, Exception], None] | None) -> list[_Judged | Exception]:
    results: list[_Judged | Exception | None] = [None] * len(orders)
    readable: list[tuple[int, list[SpanRecord]]] = []
    record = access.record
    for index, order in enumerate(orders):
        try:
            readable.append((index, list(map(record, order))))
        except Exception as exc:
            results[index] = exc
    try:  # every readable group in one engine call
        flat = engine.process_many([record for _, records in readable for record in records])
        at = 0
        for index, records in readable:
            results[index] = (flat[at:at + len(records)], records)  # (records: a list made for this call)
            at += len(records)
    except Exception as exc:
        if len(readable) == 1:  # that call was this group's own
            results[readable[0][0]] = exc
        else:
            for index, records in readable:
                try:
                    results[index] = (engine.process_many(records), records)
                except Exception as group_exc:
                    results[index] = group_exc
    out: list[_Judged | Exception] = []
    for order, result in zip(orders, results):
        assert result is not None
        if isinstance(result, Exception) and skip is not None:
            result = _span_by_span(engine, order, access, skip)
        out.append(result)
    return out


def _span_by_span(engine: Engine, order: list[S], access: SpanAccess[S],
                  skip: Callable[[S, Exception], None]) -> _Judged:
    found: list[list[Finding]] = []
    records: list[SpanRecord | None] = []
    for span in order:
        try:
            record = access.record(span)
            found.append(engine.process(record))
            records.append(record)
        except Exception as exc:
            skip(span, exc)
            found.append([])
            records.append(None)
    return found, records


def _place(order: list[S], found: list[list[Finding]], records: list[SpanRecord | None],
           access: SpanAccess[S]) -> Placed[S]:
    placed: Placed[S] = Placed()
    held: dict[int, list[Finding]] = {}  # id(span) -> its findings, in placed.held
    gone: dict[str, list[Finding]] = {}
    by_id: dict[str, S] | None = None
    flagged = False
    for span, findings, record in zip(order, found, records):
        if not findings:
            if not flagged and record is not None and record.attributes.get(_FLAGGED):  # (is_flagged, inlined)
                flagged = True
            continue
        flagged = True
        if by_id is None:
            by_id = {access.span_id(s): s for s in order}
        for finding in findings:
            target = by_id.get(finding.span_id) if finding.span_id else span  # almost always ``span``
            if target is None:  # the span it is about left with an earlier batch
                about = gone.get(finding.span_id)
                if about is None:
                    about = gone[finding.span_id] = []
                    placed.gone.append((finding.span_id, span, about))
            else:
                about = held.get(id(target))
                if about is None:
                    about = held[id(target)] = []
                    placed.held.append((target, about))
            about.append(finding)
    placed.flagged = flagged
    return placed
