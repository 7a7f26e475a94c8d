"""How findings are written onto spans (``docs/architecture.md`` "Findings"), as plain attribute dicts.

Each finding becomes a ``gen_ai.evaluation.result`` event; the span gets searchable attributes
(``cot.flagged``, ``cot.finding.categories``, ``cot.finding.max_severity``) because Jaeger searches span
tags, not events. Both the in-process exporter and the collector use these functions.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence

from otel_cot import semconv

from .base import Finding, severity_rank

MAX_EVIDENCE_CHARS = 512


def finding_event_attributes(finding: Finding) -> dict[str, Any]:
    """Attributes of the ``gen_ai.evaluation.result`` event for one finding."""
    attrs: dict[str, Any] = {
        semconv.GEN_AI_EVALUATION_NAME: finding.detector_id,
        semconv.GEN_AI_EVALUATION_SCORE_VALUE: float(finding.score),
        semconv.GEN_AI_EVALUATION_SCORE_LABEL: finding.category,
        semconv.GEN_AI_EVALUATION_EXPLANATION: finding.explanation,
        semconv.COT_FINDING_CATEGORY: finding.category,
        semconv.COT_FINDING_SEVERITY: finding.severity,
        semconv.COT_FINDING_DETECTOR: finding.detector_id,
        semconv.COT_FINDING_DETECTOR_VERSION: finding.detector_version,
    }
    if finding.evidence:
        attrs[semconv.COT_FINDING_EVIDENCE] = finding.evidence[:MAX_EVIDENCE_CHARS]
    if finding.evidence_location:
        attrs[semconv.COT_FINDING_EVIDENCE_LOCATION] = finding.evidence_location
    if finding.related_span_id:
        attrs[semconv.COT_FINDING_RELATED_SPAN_ID] = finding.related_span_id
    if finding.mechanism:
        attrs[semconv.COT_FINDING_MECHANISM] = finding.mechanism
    for key, value in finding.extra.items():
        attrs.setdefault(key, value)
    return attrs


def span_attributes(findings: Sequence[Finding], existing: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The searchable span attributes for ``findings`` (merged with any already on the span)."""
    if not findings:
        return {}
    categories = set(c for c in (existing or {}).get(semconv.COT_FINDING_CATEGORIES, ()) or ())
    categories.update(f.category for f in findings)
    severities = [f.severity for f in findings]
    previous = (existing or {}).get(semconv.COT_FINDING_MAX_SEVERITY)
    if previous:
        severities.append(previous)
    return {
        semconv.COT_FLAGGED: True,
        semconv.COT_FINDING_CATEGORIES: tuple(sorted(categories)),
        semconv.COT_FINDING_MAX_SEVERITY: max(severities, key=severity_rank),
    }


def event_time(start_ns: int, end_ns: int) -> int:
    """A timestamp inside the span (its end), so trace viewers draw the event on it."""
    if end_ns and end_ns >= start_ns:
        return end_ns
    return start_ns


def group_by_span(findings: Iterable[Finding]) -> dict[str, list[Finding]]:
    """Findings by the span they are about (for the monitor's late findings, one ``cot.finding`` span each)."""
    out: dict[str, list[Finding]] = {}
    for f in findings:
        out.setdefault(f.span_id, []).append(f)
    return out
