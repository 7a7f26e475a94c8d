"""``request_of`` frames the outgoing request from each message's own serialization: the bytes must be the
ones the protobuf API gives for the same request (the previous implementation, kept here as the
reference), for every shape of resource, scope and span, annotated or not."""

from __future__ import annotations

from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

from otel_cot.detectors import Finding
from otel_cot_collector import otlp
from otel_cot_collector.processors.detect import annotate_span
from otel_cot_collector.processors.finding_spans import SCOPE, finding_span
from otel_cot_collector.processors.grouping import SpanRef, request_of


def reference(refs: list[SpanRef]) -> bytes:
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


def span(n: int, **attributes: Any) -> Span:
    s = Span(trace_id=bytes(15) + bytes([n % 7 + 1]), span_id=bytes(7) + bytes([n + 1]), name=f"s{n}",
             start_time_unix_nano=n, end_time_unix_nano=n + 1)
    otlp.put_attributes(s.attributes, {"gen_ai.tool.name": "bash", **attributes})
    return s


def finding(span_id: str) -> Finding:
    return Finding(detector_id="cot.test", detector_version="1", category="destructive_action",
                   severity="high", score=0.9, explanation="rm -rf /", evidence="rm -rf /", span_id=span_id)


def refs_of(request: ExportTraceServiceRequest, inbox_id: int = 1) -> list[SpanRef]:
    return [SpanRef(rs, ss, s, inbox_id) for rs in request.resource_spans for ss in rs.scope_spans
            for s in ss.spans]


def request() -> ExportTraceServiceRequest:
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add(schema_url="https://opentelemetry.io/schemas/1.30.0")
    otlp.put_attributes(rs.resource.attributes, {"service.name": "agent"})
    ss = rs.scope_spans.add(schema_url="https://example.test/scope")
    ss.scope.name, ss.scope.version = "otel_cot", "1.0"
    ss.spans.extend([span(0), span(1, big="x" * 70_000), span(2)])  # 70 KB: a three-byte length
    rs.scope_spans.add().spans.extend([span(3)])  # a scope without name or schema
    req.resource_spans.add().scope_spans.add().spans.extend([span(4, count=7, ok=True, ratio=0.5)])  # no resource
    unknown = ResourceSpans(scope_spans=[ScopeSpans(spans=[span(5)])])
    unknown.scope_spans[0].spans[0].MergeFromString(b"\xa8\x1f\x01")  # field 500, a varint: unknown field
    req.resource_spans.append(unknown)
    return req


def test_the_framed_request_is_the_one_the_protobuf_api_builds():
    refs = refs_of(request())
    # interleaved resources and scopes, as traces leave the grouper
    mixed = [refs[5], refs[0], refs[4], refs[3], refs[1], refs[2]]
    for chosen in (refs, mixed, refs[:1], refs[1:2], refs[3:], []):
        assert request_of(chosen) == reference(chosen)
    assert ExportTraceServiceRequest.FromString(request_of(mixed)) == \
        ExportTraceServiceRequest.FromString(reference(mixed))


def test_annotated_spans_and_finding_spans_go_out_as_the_protobuf_api_builds_them():
    refs = refs_of(request())
    assert annotate_span(refs[2].span, [finding(refs[2].span.span_id.hex())])  # flagged: events, attributes
    gone = SpanRef(refs[0].resource, SCOPE, finding_span(refs[0].span.trace_id, bytes(8), [finding("00" * 8)],
                                                          now_ns=5), 1)
    chosen = refs + [gone]
    out = request_of(chosen)
    assert out == reference(chosen)
    sent = ExportTraceServiceRequest.FromString(out)
    flagged = sent.resource_spans[0].scope_spans[0].spans[2]
    assert otlp.attributes_of(flagged.attributes)["cot.flagged"] is True and len(flagged.events) == 1
    assert sent.resource_spans[0].scope_spans[-1].scope.name == "otel_cot_collector.detect"
