"""What a trace report shows: each trace as a tree of spans in time order, each span with the views the
detectors read (reasoning, answer text, tool calls and results, new input) and the findings written onto it.

The input is what ``otel-cot scan`` has: :class:`~otel_cot.detectors.views.SpanRecord`s and the
:class:`~otel_cot.detectors.base.Finding`s of the engine (or, for a trace that went through the detectors
already, the findings read back from its ``gen_ai.evaluation.result`` events: :func:`findings_from_otlp`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

from otel_cot import semconv
from otel_cot.detectors.base import KIND_REASONING, Finding, SpanView, severity_rank
from otel_cot.detectors.views import SpanRecord, views_from_record

# What a span is, for colour and label: by gen_ai.operation.name, else by name.
KIND_AGENT, KIND_CHAT, KIND_REASONING_SPAN, KIND_TOOL, KIND_FINDING, KIND_OTHER = (
    "agent", "chat", "reasoning", "tool", "finding", "span")
MAX_DEPTH = 48
_OPERATION_KINDS = {"invoke_agent": KIND_AGENT, "create_agent": KIND_AGENT, "chat": KIND_CHAT,
                    "text_completion": KIND_CHAT, "generate_content": KIND_CHAT, "embeddings": KIND_CHAT,
                    "execute_tool": KIND_TOOL}


@dataclass
class ReportSpan:
    record: SpanRecord
    kind: str
    views: list[SpanView]
    findings: list[Finding] = field(default_factory=list)
    children: list["ReportSpan"] = field(default_factory=list)
    depth: int = 0
    on_flagged_path: bool = False  # the span or one of its descendants is flagged
    flattened: bool = False  # nested deeper than MAX_DEPTH: shown under its ancestor at that depth

    @property
    def span_id(self) -> str:
        return self.record.span_id

    @property
    def duration_ns(self) -> int:
        return max(0, self.record.end_time_ns - self.record.start_time_ns)

    @property
    def max_severity(self) -> str | None:
        return max((f.severity for f in self.findings), key=severity_rank, default=None)

    def flagged_locations(self) -> set[str]:
        return {f.evidence_location for f in self.findings if f.evidence_location}


@dataclass
class ReportTrace:
    trace_id: str
    roots: list[ReportSpan]
    spans: list[ReportSpan]  # depth-first, children in start order
    service: str | None = None
    _by_id: dict[str, ReportSpan] = field(default_factory=dict, repr=False)

    @property
    def start_ns(self) -> int:
        return min((s.record.start_time_ns for s in self.spans), default=0)

    @property
    def end_ns(self) -> int:
        return max((s.record.end_time_ns for s in self.spans), default=0)

    @property
    def flagged(self) -> list[ReportSpan]:
        return [s for s in self.spans if s.findings]

    @property
    def findings(self) -> list[Finding]:
        return [f for s in self.spans for f in s.findings]

    def span(self, span_id: str | None) -> ReportSpan | None:
        if len(self._by_id) != len(self.spans):
            self._by_id = {s.span_id: s for s in self.spans}
        return self._by_id.get(span_id or "")

    def reasoning_for(self, span: ReportSpan, finding: Finding) -> tuple[ReportSpan, str] | None:
        """The reasoning that explains a finding: the related span's (a cross-span finding names the
        reasoning it follows), else the flagged span's own, else its reasoning children's."""
        candidates = [self.span(finding.related_span_id), span, *span.children]
        for candidate in candidates:
            if candidate is None:
                continue
            texts = [v.text for v in candidate.views if v.kind == KIND_REASONING and v.text]
            if texts:
                return candidate, "\n\n".join(texts)
        return None

    def explaining_spans(self) -> set[str]:
        """Ids of the spans whose reasoning explains a finding (shown open next to the flagged spans)."""
        out: set[str] = set()
        for span in self.flagged:
            for f in span.findings:
                found = self.reasoning_for(span, f)
                if found:
                    out.add(found[0].span_id)
        return out


def span_kind(record: SpanRecord) -> str:
    if record.name == semconv.COT_FINDING_SPAN_NAME:
        return KIND_FINDING
    if semconv.COT_REASONING_CONTENT in record.attributes:
        return KIND_REASONING_SPAN
    operation = record.attributes.get(semconv.GEN_AI_OPERATION_NAME)
    if operation in _OPERATION_KINDS:
        return _OPERATION_KINDS[str(operation)]
    if semconv.GEN_AI_TOOL_NAME in record.attributes:
        return KIND_TOOL
    return KIND_OTHER


def build_traces(records: Iterable[SpanRecord], findings: Iterable[Finding] = (),
                 services: Mapping[str, str] | None = None) -> list[ReportTrace]:
    """Group ``records`` by trace into trees (a span whose parent is not in the file is a root) and attach
    each finding to the span it names. ``services`` maps span ids to ``service.name``. Traces with
    findings come first, then by start time."""
    by_trace: dict[str, dict[str, SpanRecord]] = {}
    for record in records:
        by_trace.setdefault(record.trace_id, {})[record.span_id] = record
    found: dict[tuple[str, str], list[Finding]] = {}
    for f in findings:
        found.setdefault((f.trace_id, f.span_id), []).append(f)
    traces = [_build_trace(trace_id, spans, found, services or {}) for trace_id, spans in by_trace.items()]
    traces.sort(key=lambda t: (not t.flagged, t.start_ns, t.trace_id))
    return traces


def _build_trace(trace_id: str, records: dict[str, SpanRecord], found: dict[tuple[str, str], list[Finding]],
                 services: Mapping[str, str]) -> ReportTrace:
    spans = {sid: ReportSpan(r, span_kind(r), list(views_from_record(r))) for sid, r in records.items()}
    for (tid, sid), fs in found.items():
        target = spans.get(sid) if tid == trace_id else None
        if target is not None:
            target.findings.extend(fs)
    roots: list[ReportSpan] = []
    for span in spans.values():
        parent = spans.get(span.record.parent_span_id or "")
        if parent is not None and parent is not span:
            parent.children.append(span)
        else:
            roots.append(span)
    _flatten_deep(roots)
    ordered: list[ReportSpan] = []
    seen: set[str] = set()
    _order(roots, 0, ordered, seen)
    for span in spans.values():  # spans in a parent cycle are reached from no root: show them as roots
        if span.span_id not in seen:
            roots.append(span)
            _order([span], 0, ordered, seen)
    for span in ordered:
        _drop_repeated_reasoning(span)
    service = next((services[s.span_id] for s in ordered if s.span_id in services), None)
    return ReportTrace(trace_id, roots, ordered, service)


def _flatten_deep(roots: list[ReportSpan]) -> None:
    """Spans nested deeper than MAX_DEPTH are shown as children of their ancestor at that depth (marked
    ``flattened``): a hostile or runaway trace cannot exhaust the recursion below or the browser's
    nesting limit."""
    stack = [(root, 0) for root in roots]
    seen: set[str] = set()
    while stack:
        span, depth = stack.pop()
        if span.span_id in seen:
            continue
        seen.add(span.span_id)
        if depth < MAX_DEPTH - 1:
            stack.extend((child, depth + 1) for child in span.children)
            continue
        below, todo = [], list(span.children)
        while todo:
            child = todo.pop()
            if child.span_id in seen:
                continue
            seen.add(child.span_id)
            below.append(child)
            todo.extend(child.children)
            child.children, child.flattened = [], True
        span.children = below


def _start_key(span: ReportSpan) -> tuple[int, int, str]:
    return (span.record.start_time_ns, span.record.end_time_ns, span.span_id)


def _order(spans: list[ReportSpan], depth: int, out: list[ReportSpan], seen: set[str]) -> bool:
    """Depth-first in start order; sets depth and on_flagged_path; True when any span below is flagged."""
    spans.sort(key=_start_key)
    any_flagged = False
    for span in spans:
        if span.span_id in seen:
            continue
        seen.add(span.span_id)
        span.depth = depth
        out.append(span)
        below = _order(span.children, depth + 1, out, seen)
        span.on_flagged_path = bool(span.findings) or below
        any_flagged = any_flagged or span.on_flagged_path
    return any_flagged


def _drop_repeated_reasoning(span: ReportSpan) -> None:
    """A model-call span repeats in its output messages the reasoning its ``reasoning`` child spans carry:
    show it once, on the child (unless a finding points at the parent's copy)."""
    child_texts = {v.text for c in span.children for v in c.views if v.kind == KIND_REASONING}
    if not child_texts:
        return
    pinned = span.flagged_locations()
    span.views = [v for v in span.views
                  if not (v.kind == KIND_REASONING and v.text in child_texts and v.location not in pinned)]


# --- findings read back from spans that went through the detectors ---------------------------------------

def findings_from_otlp(document: Mapping[str, Any]) -> list[Finding]:
    """The findings written onto the spans of an OTLP-JSON document (one per ``gen_ai.evaluation.result``
    event). A finding on a ``cot.finding`` span is about that span's parent, so it is attributed there."""
    out: list[Finding] = []
    for span, _service in otlp_spans(document):
        target = span.get("spanId", "")
        if span.get("name") == semconv.COT_FINDING_SPAN_NAME and span.get("parentSpanId"):
            target = span["parentSpanId"]
        for event in span.get("events") or ():
            if event.get("name") != semconv.GEN_AI_EVALUATION_RESULT_EVENT:
                continue
            a = {kv.get("key"): _value(kv.get("value") or {}) for kv in event.get("attributes") or ()}
            out.append(Finding(
                detector_id=str(a.get(semconv.COT_FINDING_DETECTOR) or a.get(semconv.GEN_AI_EVALUATION_NAME) or ""),
                detector_version=str(a.get(semconv.COT_FINDING_DETECTOR_VERSION) or ""),
                category=str(a.get(semconv.COT_FINDING_CATEGORY) or a.get(semconv.GEN_AI_EVALUATION_SCORE_LABEL)
                             or ""),
                severity=str(a.get(semconv.COT_FINDING_SEVERITY) or "low"),  # type: ignore[arg-type]
                score=float(a.get(semconv.GEN_AI_EVALUATION_SCORE_VALUE) or 0.0),
                explanation=str(a.get(semconv.GEN_AI_EVALUATION_EXPLANATION) or ""),
                evidence=str(a.get(semconv.COT_FINDING_EVIDENCE) or ""),
                evidence_location=str(a.get(semconv.COT_FINDING_EVIDENCE_LOCATION) or ""),
                span_id=_hex(target), trace_id=_hex(span.get("traceId", "")),
                related_span_id=a.get(semconv.COT_FINDING_RELATED_SPAN_ID) or None,
            ))
    return out


def services_from_otlp(document: Mapping[str, Any]) -> dict[str, str]:
    """span id -> the ``service.name`` of its resource."""
    return {_hex(span.get("spanId", "")): service for span, service in otlp_spans(document) if service}


def otlp_spans(document: Mapping[str, Any]) -> Iterable[tuple[Mapping[str, Any], str | None]]:
    for rs in document.get("resourceSpans") or ():
        resource = {kv.get("key"): _value(kv.get("value") or {})
                    for kv in (rs.get("resource") or {}).get("attributes") or ()}
        service = resource.get("service.name")
        for ss in rs.get("scopeSpans") or ():
            for span in ss.get("spans") or ():
                yield span, str(service) if service is not None else None


def _hex(value: Any) -> str:
    return str(value or "").lower()


def _value(v: Mapping[str, Any]) -> Any:
    for key in ("stringValue", "boolValue", "doubleValue"):
        if key in v:
            return v[key]
    if "intValue" in v:
        return int(v["intValue"])
    if "arrayValue" in v:
        return [_value(x) for x in (v["arrayValue"] or {}).get("values") or ()]
    return None


def sorted_findings(findings: Sequence[Finding]) -> list[Finding]:
    """Most severe first, then by score."""
    return sorted(findings, key=lambda f: (-severity_rank(f.severity), -f.score, f.category))


def format_duration(ns: int) -> str:
    """``0.06 ms``, ``281 ms``, ``1.24 s``, ``2 min 03 s``."""
    ms = ns / 1e6
    if ms < 1:
        return f"{ms:.2f} ms"
    if ms < 1000:
        return f"{ms:.0f} ms" if ms >= 10 else f"{ms:.1f} ms"
    s = ms / 1000
    if s < 60:
        return f"{s:.2f} s" if s < 10 else f"{s:.1f} s"
    minutes, seconds = divmod(int(round(s)), 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"
