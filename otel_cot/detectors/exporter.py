"""In-process detection: a ``SpanExporter`` wrapper that runs the engine over each batch before export.

    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from otel_cot.detectors.exporter import DetectingSpanExporter

    provider.add_span_processor(BatchSpanProcessor(DetectingSpanExporter(OTLPSpanExporter())))

It runs on the ``BatchSpanProcessor``'s export thread, never on the application's. SDK spans are
immutable once ended, so flagged spans are exported as annotated copies (same ids, times, parent, resource
and scope; extra attributes and events). It never raises: if detection fails, the batch is exported
unannotated and the failure is logged.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from typing import Any, Callable, Protocol, Sequence

from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, SpanKind, TraceFlags

from otel_cot import semconv

from .annotate import event_time, finding_event_attributes, group_by_span, span_attributes
from .base import Finding
from .engine import Engine
from .judging import judge
from .views import SpanRecord

logger = logging.getLogger("otel_cot.detectors")


def _span_id(span: ReadableSpan) -> str:
    return format(span.context.span_id, "016x") if span.context else ""


def record_from_span(span: ReadableSpan) -> SpanRecord:
    """The engine's view of an SDK span (ids as lowercase hex)."""
    ctx = span.context
    parent = span.parent
    return SpanRecord(
        trace_id=format(ctx.trace_id, "032x") if ctx else "",
        span_id=_span_id(span),
        name=span.name,
        attributes=dict(span.attributes or {}),
        start_time_ns=span.start_time or 0,
        end_time_ns=span.end_time or 0,
        parent_span_id=format(parent.span_id, "016x") if parent else None,
    )


class _SdkSpans:
    """:class:`~otel_cot.detectors.judging.SpanAccess` for SDK spans."""

    record = staticmethod(record_from_span)
    span_id = staticmethod(_span_id)

    @staticmethod
    def order(span: ReadableSpan) -> tuple[int, int]:
        return span.end_time or 0, span.start_time or 0


_SDK_SPANS = _SdkSpans()


def _report_unreadable(span: ReadableSpan, exc: Exception) -> None:
    logger.error("otel-cot: detection failed for span %s", span.name, exc_info=exc)


class _AnnotatedSpan(ReadableSpan):
    """A copy of a finished span with findings added; keeps the original's dropped-item counts."""

    def __init__(self, original: ReadableSpan, attributes: dict[str, Any], events: Sequence[Event]) -> None:
        super().__init__(
            name=original.name,
            context=original.context,
            parent=original.parent,
            resource=original.resource,
            attributes=attributes,
            events=events,
            links=original.links,
            kind=original.kind,
            status=original.status,
            start_time=original.start_time,
            end_time=original.end_time,
            instrumentation_scope=original.instrumentation_scope,
        )
        self._original = original

    @property
    def dropped_attributes(self) -> int:
        return self._original.dropped_attributes

    @property
    def dropped_events(self) -> int:
        return self._original.dropped_events

    @property
    def dropped_links(self) -> int:
        return self._original.dropped_links


def annotate_span(span: ReadableSpan, findings: Sequence[Finding]) -> ReadableSpan:
    """``span`` with ``findings`` written on it (``docs/architecture.md`` "Findings"); ``span`` itself when none."""
    if not findings:
        return span
    attrs = dict(span.attributes or {})
    attrs.update(span_attributes(findings, attrs))
    when = event_time(span.start_time or 0, span.end_time or 0)
    events = list(span.events) + [
        Event(semconv.GEN_AI_EVALUATION_RESULT_EVENT, finding_event_attributes(f), timestamp=when)
        for f in findings
    ]
    return _AnnotatedSpan(span, attrs, events)


_SCOPE = InstrumentationScope("otel_cot.detectors")


def finding_span(trace_id: str, parent_span_id: str, findings: Sequence[Finding],
                 like: ReadableSpan | None = None) -> ReadableSpan:
    """A ``cot.finding`` span, child of ``parent_span_id``, carrying ``findings`` (``docs/architecture.md`` "Findings"):
    for a finding about a span that was already exported, so it can no longer be annotated."""
    now = time.time_ns()
    trace = int(trace_id, 16)
    context = SpanContext(trace, random.getrandbits(64) or 1, is_remote=False,
                          trace_flags=TraceFlags(TraceFlags.SAMPLED))
    parent = SpanContext(trace, int(parent_span_id, 16), is_remote=False,
                         trace_flags=TraceFlags(TraceFlags.SAMPLED))
    events = [Event(semconv.GEN_AI_EVALUATION_RESULT_EVENT, finding_event_attributes(f), timestamp=now)
              for f in findings]
    kwargs: dict[str, Any] = {"resource": like.resource} if like is not None else {}
    return ReadableSpan(name=semconv.COT_FINDING_SPAN_NAME, context=context, parent=parent,
                        attributes=span_attributes(findings), events=events, kind=SpanKind.INTERNAL,
                        start_time=now, end_time=now, instrumentation_scope=_SCOPE, **kwargs)


class LateFindings(Protocol):
    """What the exporter needs of the model-based monitor (``otel_cot.monitor.MonitorRunner``)."""

    def observe(self, records: Sequence[SpanRecord], findings: Sequence[Finding]) -> None: ...

    def deliver_to(self, deliver: Callable[[list[Finding]], None] | None) -> None: ...

    def close(self, timeout: float | None = None) -> None: ...


class DetectingSpanExporter(SpanExporter):
    """Wraps ``inner``: runs ``engine`` (the built-in detectors when ``None``) over each batch, writes the
    findings onto annotated copies of the spans they concern, then hands the batch to ``inner``.

    With ``monitor`` (an ``otel_cot.monitor.MonitorRunner``) each exported batch is also filed with the
    model-based monitor, which judges a trace when it ends, on its own threads: export never waits for
    the judge. Its findings arrive after the spans left, so the monitor's thread exports them as
    ``cot.finding`` spans, children of the spans they are about (one export at a time: ``inner`` is never
    called from two threads at once). Shutdown waits up to the monitor's ``drain_timeout`` for verdicts.
    """

    def __init__(self, inner: SpanExporter, engine: Engine | None = None,
                 monitor: LateFindings | None = None) -> None:
        self._inner = inner
        self._engine = engine
        self._engine_failed = False
        self._monitor = monitor
        self._export_lock = threading.Lock()
        self._like: ReadableSpan | None = None  # a span of ours, for the resource of cot.finding spans
        if monitor is not None:
            monitor.deliver_to(self._export_late)

    @property
    def engine(self) -> Engine | None:
        if self._engine is None and not self._engine_failed:
            try:
                self._engine = Engine()
            except Exception:
                self._engine_failed = True
                logger.exception("otel-cot: could not build the detector engine; exporting unannotated")
        return self._engine

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        findings: list[Finding] = []
        try:
            out, findings = self._annotate(spans)
        except Exception:
            logger.exception("otel-cot: detection failed for a batch of %d spans; exported unannotated",
                             len(spans))
            out = spans
        if self._monitor is not None and spans:
            self._file_with_monitor(spans, findings)
        with self._export_lock:
            return self._inner.export(out)

    def _annotate(self, spans: Sequence[ReadableSpan]) -> tuple[Sequence[ReadableSpan], list[Finding]]:
        """The batch to export and every finding made about it."""
        engine = self.engine
        if engine is None or not spans:
            return spans, []
        placed = judge(engine, [spans], _SDK_SPANS, skip_unreadable=_report_unreadable)[0]
        if isinstance(placed, Exception):  # not expected: skip_unreadable judges span by span
            raise placed
        if not placed.held and not placed.gone:
            return spans, []
        found = {id(span): about for span, about in placed.held}
        out = [annotate_span(span, found[id(span)]) if id(span) in found else span for span in spans]
        # Findings about spans of an earlier batch (a detector may write on the earlier span of a
        # cross-span finding): that span is gone, so the finding becomes its child span.
        for span_id, _, about in placed.gone:
            if about[0].trace_id:
                out.append(finding_span(about[0].trace_id, span_id, about, like=spans[0]))
        findings = [f for _, about in placed.held for f in about] + [f for _, _, about in placed.gone for f in about]
        return out, findings

    def _file_with_monitor(self, spans: Sequence[ReadableSpan], findings: list[Finding]) -> None:
        assert self._monitor is not None
        self._like = spans[0]
        records = []
        for span in sorted(spans, key=_SDK_SPANS.order):  # in the order they ended
            try:
                records.append(record_from_span(span))
            except Exception as exc:
                _report_unreadable(span, exc)
        try:
            self._monitor.observe(records, findings)
        except Exception:
            logger.exception("otel-cot: the monitor could not file a batch of %d spans", len(spans))

    def _export_late(self, findings: list[Finding]) -> None:
        """On a monitor thread: the judge's findings about spans exported already, as ``cot.finding`` spans."""
        made = [finding_span(found[0].trace_id, span_id, found, like=self._like)
                for span_id, found in group_by_span(findings).items() if span_id and found[0].trace_id]
        if made:
            with self._export_lock:
                result = self._inner.export(made)
            if result is not SpanExportResult.SUCCESS:
                logger.warning("otel-cot: exporting %d monitor finding span(s) failed", len(made))

    def shutdown(self) -> None:
        try:
            if self._monitor is not None:
                self._monitor.close()  # judges what is held, within drain_timeout; exports its findings
            if self._engine is not None:
                self._engine.close()
        except Exception:
            logger.exception("otel-cot: stopping the detectors failed")
        finally:
            self._inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._inner.force_flush(timeout_millis)
