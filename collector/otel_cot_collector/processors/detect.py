"""The ``detect`` processor: the detector engine on OTLP protobuf spans and log records, findings written
back into the messages.

Spans are judged and their findings placed by :mod:`otel_cot.detectors.judging` (the algorithm the
in-process exporter uses too); this module reads and writes protobuf spans. Annotation is idempotent,
because delivery is at-least-once: a finding whose (detector, category, evidence location) already has an
evaluation event on the span is not written again, and the searchable attributes are merged with the ones
already there.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from operator import attrgetter
from typing import Any, Iterable, Iterator, Sequence

from otel_cot import semconv
from otel_cot.detectors import Engine, Finding, load_config_file
from otel_cot.detectors.annotate import event_time, finding_event_attributes, span_attributes
from otel_cot.detectors.base import severity_rank
from otel_cot.detectors.judging import is_flagged, judge

from .. import otlp
from ..config_parsing import ConfigError, Section, duration, existing_file, integer
from ..preflight import one_line
from ..registry import Emit, Factory, FindingsFeed, ProcessorContext
from ..span_records import ref_record
from ..telemetry import Metrics
from .agents import agent_log_mappers
from .agents.spans import MODES as LOG_SPAN_MODES, LogSpans
from .finding_spans import SCOPE, finding_span
from .grouping import Group, SpanRef
from .log_views import LogMappers, log_record_data

logger = logging.getLogger("otel_cot_collector.pipeline")

_EVENT = semconv.GEN_AI_EVALUATION_RESULT_EVENT


class _SpanRefs:
    """:class:`~otel_cot.detectors.judging.SpanAccess` for the grouper's :class:`SpanRef`: a span's record
    is read from the bytes it arrived in (``ref.wire``) where it has them, not serialized again."""

    record = staticmethod(ref_record)
    order = staticmethod(attrgetter("span.end_time_unix_nano", "span.start_time_unix_nano"))

    @staticmethod
    def span_id(ref: SpanRef) -> str:
        return ref.span.span_id.hex()


_SPAN_REFS = _SpanRefs()


def _finding_key(attrs: dict[str, Any]) -> tuple:
    return (attrs.get(semconv.COT_FINDING_DETECTOR), attrs.get(semconv.COT_FINDING_CATEGORY),
            attrs.get(semconv.COT_FINDING_EVIDENCE_LOCATION, ""))


def _existing_keys(events: Iterable[Any]) -> set[tuple]:
    keys = set()
    for ev in events:
        if ev.name == _EVENT:
            keys.add(_finding_key(otlp.attributes_of(ev.attributes)))
    return keys


def annotate_span(span: Any, findings: Sequence[Finding]) -> list[Finding]:
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
        otlp.put_attributes(span.attributes, span_attributes(new, otlp.attributes_of(span.attributes)))
    return new


def service_name(resource_spans: Any) -> str:
    """The ``service.name`` of a ResourceSpans message."""
    return next((kv.value.string_value for kv in resource_spans.resource.attributes if kv.key == "service.name"),
                "unknown_service")


class Detect:
    """Runs ``engine`` over grouped traces and over log records, annotating in place. In a pipeline,
    the findings it writes go to ``findings`` and the log-record spans to ``emit``."""

    def __init__(self, engine: Engine, metrics: Metrics, log_mappers: LogMappers | None = None,
                 log_spans: LogSpans | None = None, findings: FindingsFeed | None = None,
                 emit: Emit | None = None) -> None:
        self.engine = engine
        self.metrics = metrics
        self.log_mappers = log_mappers or agent_log_mappers()
        self.log_spans = log_spans  # coding-agent records also emitted as spans (see agents/spans.py)
        self.findings = findings
        self.emit = emit

    def traces(self, groups: list[Group]) -> list[Group]:
        """Judge each trace's spans in the order they ended (with one engine call for all of them), write
        the findings onto the spans they are about, or as ``cot.finding`` spans (``group.added``) when
        that span left with an earlier flush; set ``group.findings`` (the new ones) and ``group.flagged``
        (a span of the trace is flagged, now or by an earlier pass). A trace that cannot be judged is
        logged and passed on unannotated; the others are judged anyway."""
        started = time.perf_counter()
        services: dict[int, str] = {}
        published: list[tuple[Finding, str]] = []
        for group, placed in zip(groups, judge(self.engine, [group.spans for group in groups], _SPAN_REFS)):
            if isinstance(placed, Exception):
                logger.error("detection failed for a trace; exported unannotated",
                             exc_info=placed, extra={"trace_id": group.trace_id.hex()})
                continue
            new: list[Finding] = []
            for ref, about in placed.held:
                ref.wire = None  # changed here: exported serialized (span_writes="clears")
                new.extend(annotate_span(ref.span, about))
            # about spans that left with an earlier flush: cot.finding spans, with the resource of the span
            for span_id, ref, about in placed.gone:  # whose judging found them
                group.added.append(SpanRef(ref.resource, SCOPE, finding_span(
                    ref.span.trace_id, bytes.fromhex(span_id), about), ref.inbox_id))
                new.extend(about)
            group.findings.extend(new)
            group.flagged = group.flagged or placed.flagged
            if new and self.findings is not None:
                resource = group.spans[0].resource
                if id(resource) not in services:
                    services[id(resource)] = service_name(resource)
                published.extend((f, services[id(resource)]) for f in new)
        self.metrics.inc("otelcot_detector_seconds_total", time.perf_counter() - started,
                         help="Time spent in the detector engine", signal="traces")
        if self.findings is not None:
            self.findings.publish(published)
        return groups

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
        if self.findings is not None:
            self.findings.publish(out)
        if self.emit is not None and self.log_spans is not None:
            spans = self.log_spans.take()
            if spans:  # in the same transaction as the logs, so a crash re-emits both
                self.emit("traces", spans)
        return out


@dataclass
class DetectConfig:
    config_file: str | None = None
    timeout: float | None = 2.0
    max_traces: int = 10_000
    log_spans: str = "none"  # coding-agent log records as spans: none | flagged | all


def _log_spans(value: Any, path: str) -> str:
    if value is False:  # YAML reads a bare `none`/`off` as a string but `false` as a bool
        return "none"
    if value not in LOG_SPAN_MODES:
        raise ConfigError(f"{path}: must be none, flagged or all (got {value!r})")
    return str(value)


def parse(s: Section, d: DetectConfig) -> DetectConfig:
    timeout = s.get("timeout", d.timeout, duration)
    return DetectConfig(config_file=s.get("config_file", d.config_file, existing_file), timeout=timeout or None,
                        max_traces=s.get("max_traces", d.max_traces, integer(1)),
                        log_spans=s.get("log_spans", d.log_spans, _log_spans))


def build_engine(cfg: DetectConfig, metrics: Metrics) -> Engine:
    detectors = load_config_file(cfg.config_file) if cfg.config_file else None
    engine = Engine(detectors, timeout_s=cfg.timeout, max_traces=cfg.max_traces)
    metrics.gauge("otelcot_detector_traces", "Traces with detector state", lambda: engine.trace_count)
    return engine


def create(cfg: DetectConfig, ctx: ProcessorContext) -> Detect:
    # One engine for the traces and the logs pipeline, built from the first detect config (traces' first).
    engine = ctx.share("detect.engine", lambda: build_engine(cfg, ctx.metrics))
    log_spans = LogSpans(cfg.log_spans) if ctx.signal == "logs" and cfg.log_spans != "none" else None
    return Detect(engine, ctx.metrics, log_spans=log_spans, findings=ctx.findings, emit=ctx.emit)


def check(cfg: DetectConfig, path: str) -> Iterator[str]:
    """The detectors' config file loads (rule packs, plugins)."""
    if cfg.config_file:
        try:
            load_config_file(cfg.config_file)
        except Exception as exc:  # whatever a plugin's import raises
            yield f"{path}.config_file: {cfg.config_file}: {one_line(exc)}"


factory = Factory(kind="processor", type="detect", config=DetectConfig, parse=parse, create=create,
                  signals=("traces", "logs"), check=check, span_writes="clears")
