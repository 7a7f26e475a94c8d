"""The detector engine on OTLP protobuf spans and log records: findings written back into the messages.

Annotation is idempotent, because delivery is at-least-once: a finding whose (detector, category,
evidence location) already has an evaluation event on the span is not written again, and the searchable
attributes are merged with the ones already there.
"""

from __future__ import annotations

import time
from typing import Any, Iterable, NamedTuple, Sequence

from otel_cot import semconv
from otel_cot.detectors import Engine, Finding, SpanRecord
from otel_cot.detectors.annotate import event_time, finding_event_attributes, group_by_span, span_attributes
from otel_cot.detectors.base import severity_rank

from .. import otlp
from ..telemetry import Metrics
from .agents import agent_log_mappers
from .agents.spans import LogSpans
from .finding_spans import SCOPE, finding_span
from .grouping import SpanRef
from .log_views import LogMappers, log_record_data

_EVENT = semconv.GEN_AI_EVALUATION_RESULT_EVENT


def span_record(span: Any) -> SpanRecord:
    return SpanRecord(
        trace_id=span.trace_id.hex(),
        span_id=span.span_id.hex(),
        name=span.name,
        attributes=otlp.attributes_of(span.attributes),
        start_time_ns=span.start_time_unix_nano,
        end_time_ns=span.end_time_unix_nano,
        parent_span_id=span.parent_span_id.hex() or None,
    )


def _finding_key(attrs: dict[str, Any]) -> tuple:
    return (attrs.get(semconv.COT_FINDING_DETECTOR), attrs.get(semconv.COT_FINDING_CATEGORY),
            attrs.get(semconv.COT_FINDING_EVIDENCE_LOCATION, ""))


def _existing_keys(events: Iterable[Any]) -> set[tuple]:
    keys = set()
    for ev in events:
        if ev.name == _EVENT:
            keys.add(_finding_key(otlp.attributes_of(ev.attributes)))
    return keys


def annotate_span(span: Any, findings: Sequence[Finding], existing: dict[str, Any]) -> list[Finding]:
    """Write ``findings`` onto the protobuf ``span``; returns the ones that were new."""
    seen = _existing_keys(span.events)
    new = []
    for f in findings:
        attrs = finding_event_attributes(f)
        key = _finding_key(attrs)
        if key in seen:
            continue
        seen.add(key)
        new.append(f)
        span.events.add(name=_EVENT, time_unix_nano=event_time(span.start_time_unix_nano, span.end_time_unix_nano),
                        attributes=otlp.key_values(attrs))
    if new:
        otlp.put_attributes(span.attributes, span_attributes(new, existing))
    return new


def is_flagged(attrs: dict[str, Any]) -> bool:
    return bool(attrs.get(semconv.COT_FLAGGED))


class Judged(NamedTuple):
    """One trace's verdict: the findings newly written, whether any of its spans is flagged, and
    ``cot.finding`` spans for findings about spans no longer held (to export with the trace)."""

    findings: list[Finding]
    flagged: bool
    finding_spans: list[SpanRef]


class Detect:
    """Runs ``engine`` over grouped traces and over log records, annotating in place."""

    def __init__(self, engine: Engine, metrics: Metrics, log_mappers: LogMappers | None = None,
                 log_spans: LogSpans | None = None) -> None:
        self.engine = engine
        self.metrics = metrics
        self.log_mappers = log_mappers or agent_log_mappers()
        self.log_spans = log_spans  # coding-agent records also emitted as spans (see agents/spans.py)

    def trace(self, refs: Sequence[SpanRef]) -> Judged:
        """Judge one trace's spans in the order they ended; returns new findings and whether any span of
        the trace is flagged (now or by an earlier pass)."""
        result = self.traces([refs])[0]
        if isinstance(result, Exception):
            raise result
        return result

    def traces(self, groups: Sequence[Sequence[SpanRef]]) -> list[Judged | Exception]:
        """:meth:`trace` for several traces with one engine call (one hand-off to the detector thread).
        A trace whose spans cannot be judged gets its exception in place of its result; the others are
        judged anyway."""
        started = time.perf_counter()
        orders: list[list[SpanRef]] = []
        records: list[list[SpanRecord]] = []
        out: list[Judged | Exception] = []
        for refs in groups:
            order = sorted(refs, key=lambda r: (r.span.end_time_unix_nano, r.span.start_time_unix_nano))
            orders.append(order)
            records.append([span_record(ref.span) for ref in order])
        try:
            flat = self.engine.process_many([r for recs in records for r in recs])
            per_trace: list[list[list[Finding]] | Exception] = []
            at = 0
            for recs in records:
                per_trace.append(flat[at:at + len(recs)])
                at += len(recs)
        except Exception:  # one trace's spans could not be read: judge the traces one by one
            per_trace = []
            for recs in records:
                try:
                    per_trace.append(self.engine.process_many(recs))
                except Exception as exc:
                    per_trace.append(exc)
        for order, recs, found in zip(orders, records, per_trace):
            if isinstance(found, Exception):
                out.append(found)
                continue
            new: list[Finding] = []
            extra: list[SpanRef] = []
            flagged = False
            held = {ref.span.span_id.hex(): ref for ref in order} if any(found) else {}
            for ref, record, findings in zip(order, recs, found):
                if findings:
                    for target_id, about in group_by_span(findings).items():
                        target = held.get(target_id) if target_id else ref  # almost always ``ref`` itself
                        if target is ref:
                            new.extend(annotate_span(ref.span, about, dict(record.attributes)))
                        elif target is not None:
                            new.extend(annotate_span(target.span, about, otlp.attributes_of(target.span.attributes)))
                        else:  # the span it is about left with an earlier flush
                            extra.append(SpanRef(ref.resource, SCOPE, finding_span(
                                ref.span.trace_id, bytes.fromhex(target_id), about), ref.inbox_id))
                            new.extend(about)
                flagged = flagged or bool(findings) or is_flagged(record.attributes)
            out.append(Judged(new, flagged, extra))
        self.metrics.inc("otelcot_detector_seconds_total", time.perf_counter() - started,
                         help="Time spent in the detector engine", signal="traces")
        return out

    def logs(self, request: Any) -> list[tuple[Finding, str]]:
        """Judge every log record of an ExportLogsServiceRequest; returns (finding, service) pairs."""
        started = time.perf_counter()
        out: list[tuple[Finding, str]] = []
        for rl in request.resource_logs:
            resource = otlp.attributes_of(rl.resource.attributes)
            service = str(resource.get("service.name", "unknown_service"))
            for sl in rl.scope_logs:
                for record in sl.log_records:
                    data = log_record_data(record, resource)
                    if is_flagged(data.attributes):
                        continue  # annotated by an earlier pass (a redelivery)
                    views = self.log_mappers.views(data)
                    # an agent mapper groups by session: its views carry the session key as trace id
                    key = views[0].trace_id or data.trace_key if views else data.trace_key
                    findings = self.engine.process_views(key, views) if views else []
                    if self.log_spans is not None:
                        self.log_spans.add(data, views, findings)
                    if findings:
                        worst = max(findings, key=lambda f: severity_rank(f.severity))
                        attrs = finding_event_attributes(worst)  # logs have no events: the worst one's fields
                        attrs.update(span_attributes(findings, data.attributes))
                        attrs[semconv.COT_FINDING_DETECTOR] = worst.detector_id
                        attrs[semconv.GEN_AI_EVALUATION_EXPLANATION] = worst.explanation
                        if worst.evidence:
                            attrs[semconv.COT_FINDING_EVIDENCE] = worst.evidence[:512]
                        otlp.put_attributes(record.attributes, attrs)
                        out.extend((f, service) for f in findings)
        self.metrics.inc("otelcot_detector_seconds_total", time.perf_counter() - started, signal="logs")
        return out
