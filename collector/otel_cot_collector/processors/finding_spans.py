"""``cot.finding`` spans (``docs/architecture.md`` "Findings"): a finding about a span the collector no longer holds
(it left with an earlier flush of its trace) is exported as a child span of it instead of being lost."""

from __future__ import annotations

import os
import time
from typing import Sequence

from opentelemetry.proto.trace.v1.trace_pb2 import ScopeSpans, Span

from otel_cot import semconv
from otel_cot.detectors import Finding
from otel_cot.detectors.annotate import finding_event_attributes, span_attributes

from .. import otlp

SCOPE = ScopeSpans()
SCOPE.scope.name = "otel_cot_collector.detect"


def finding_span(trace_id: bytes, parent_span_id: bytes, findings: Sequence[Finding],
                 now_ns: int | None = None) -> Span:
    """A ``cot.finding`` span, child of ``parent_span_id``, with one evaluation event per finding."""
    now = now_ns if now_ns is not None else time.time_ns()
    span = Span(trace_id=trace_id, span_id=os.urandom(8), parent_span_id=parent_span_id,
                name=semconv.COT_FINDING_SPAN_NAME, kind=Span.SPAN_KIND_INTERNAL,
                start_time_unix_nano=now, end_time_unix_nano=now)
    span.attributes.extend(otlp.key_values(span_attributes(findings)))
    for f in findings:
        span.events.add(name=semconv.GEN_AI_EVALUATION_RESULT_EVENT, time_unix_nano=now,
                        attributes=otlp.key_values(finding_event_attributes(f)))
    return span
