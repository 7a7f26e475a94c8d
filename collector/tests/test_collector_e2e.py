"""End to end: real OTel exporters and raw OTLP → the collector process → a loopback sink."""

from __future__ import annotations

import gzip
import json
import os

import grpc
import pytest
import requests
from collector_support import Collector, Sink, wait_for
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpanExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpanExporter
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from otel_cot import semconv

pytestmark = pytest.mark.process

PROTOBUF = {"Content-Type": "application/x-protobuf"}


def attrs(span) -> dict:
    from otel_cot_collector.otlp import attributes_of
    return attributes_of(span.attributes)


def findings(span) -> list[dict]:
    from otel_cot_collector.otlp import attributes_of
    return [attributes_of(e.attributes) for e in span.events if e.name == semconv.GEN_AI_EVALUATION_RESULT_EVENT]


def send_with_sdk(exporter, service: str, command: str) -> tuple[str, str]:
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("invoke_agent coder") as root:
        with tracer.start_as_current_span("execute_tool bash") as tool:
            tool.set_attribute(semconv.GEN_AI_TOOL_NAME, "bash")
            tool.set_attribute(semconv.GEN_AI_TOOL_CALL_ARGUMENTS, json.dumps({"command": command}))
            tool_id = format(tool.get_span_context().span_id, "016x")
        root_id = format(root.get_span_context().span_id, "016x")
    provider.shutdown()
    return tool_id, root_id


@pytest.mark.parametrize("transport", ["grpc", "http"])
def test_sdk_exporters_spans_arrive_annotated(shared, transport):
    sink, collector = shared
    if transport == "grpc":
        exporter = GrpcSpanExporter(endpoint=collector.grpc_endpoint, insecure=True)
        command = "git push --force origin main"
    else:
        exporter = HttpSpanExporter(endpoint=f"http://{collector.http_endpoint}/v1/traces")
        command = "rm -rf /"
    tool_id, root_id = send_with_sdk(exporter, f"agent-{transport}", command)
    wait_for(lambda: tool_id in sink.spans and root_id in sink.spans, 15, "both spans at the sink")
    tool = sink.spans[tool_id]
    a = attrs(tool)
    assert a[semconv.COT_FLAGGED] is True
    assert "destructive_action" in a[semconv.COT_FINDING_CATEGORIES]
    assert a[semconv.COT_FINDING_MAX_SEVERITY] in ("high", "critical")
    (event,) = findings(tool)
    assert event[semconv.COT_FINDING_CATEGORY] == "destructive_action"
    assert command.split()[0] in event[semconv.COT_FINDING_EVIDENCE]
    assert semconv.COT_FLAGGED not in attrs(sink.spans[root_id])  # only the span that did it


def raw_span_request(trace_hex: str, span_hex: str, command: str = "ls -la", service: str = "raw") -> ExportTraceServiceRequest:
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    rs.resource.attributes.add(key="service.name").value.string_value = service
    span = rs.scope_spans.add().spans.add(trace_id=bytes.fromhex(trace_hex), span_id=bytes.fromhex(span_hex),
                                          name="execute_tool bash", start_time_unix_nano=1_000,
                                          end_time_unix_nano=2_000)
    span.attributes.add(key=semconv.GEN_AI_TOOL_NAME).value.string_value = "bash"
    span.attributes.add(key=semconv.GEN_AI_TOOL_CALL_ARGUMENTS).value.string_value = json.dumps({"command": command})
    return req


def test_raw_json_hex_ids_round_trip(shared):
    sink, collector = shared
    trace_hex, span_hex = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"
    body = {"resourceSpans": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "json"}}]},
                               "scopeSpans": [{"spans": [{
                                   "traceId": trace_hex, "spanId": span_hex, "name": "execute_tool bash",
                                   "startTimeUnixNano": "1000", "endTimeUnixNano": "2000",
                                   "attributes": [
                                       {"key": "gen_ai.tool.name", "value": {"stringValue": "bash"}},
                                       {"key": "gen_ai.tool.call.arguments",
                                        "value": {"stringValue": "{\"command\": \"rm -rf /\"}"}}]}]}]}]}
    r = requests.post(f"http://{collector.http_endpoint}/v1/traces", json=body, timeout=10)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    assert r.json() == {}
    span = wait_for(lambda: sink.spans.get(span_hex), 15, "the JSON span")
    assert span.trace_id.hex() == trace_hex  # not base64-decoded into 24 wrong bytes
    assert attrs(span)[semconv.COT_FLAGGED] is True


def test_gzip_protobuf_and_partial_success(shared):
    sink, collector = shared
    req = raw_span_request("1" * 32, "2" * 16)
    bad = req.resource_spans[0].scope_spans[0].spans.add(trace_id=b"short", span_id=b"x" * 8, name="bad")
    assert bad.name == "bad"
    r = requests.post(f"http://{collector.http_endpoint}/v1/traces", data=gzip.compress(req.SerializeToString()),
                      headers={**PROTOBUF, "Content-Encoding": "gzip"}, timeout=10)
    assert r.status_code == 200
    resp = ExportTraceServiceResponse.FromString(r.content)
    assert resp.partial_success.rejected_spans == 1 and "16 bytes" in resp.partial_success.error_message
    wait_for(lambda: "2" * 16 in sink.spans, 15, "the valid span")


def test_grpc_raw_and_invalid_argument(shared):
    sink, collector = shared
    channel = grpc.insecure_channel(collector.grpc_endpoint)
    call = channel.unary_unary("/opentelemetry.proto.collector.trace.v1.TraceService/Export",
                               request_serializer=None, response_deserializer=ExportTraceServiceResponse.FromString)
    resp = call(raw_span_request("3" * 32, "4" * 16).SerializeToString(), timeout=10)
    assert not resp.HasField("partial_success")
    with pytest.raises(grpc.RpcError) as err:
        call(b"\xff\xff\xff\xff garbage", timeout=10)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "invalid OTLP protobuf" in err.value.details()
    channel.close()
    wait_for(lambda: "4" * 16 in sink.spans, 15, "the gRPC span")


def test_annotation_is_idempotent_on_redelivery(shared):
    sink, collector = shared
    req = raw_span_request("5" * 32, "6" * 16, command="git push --force")
    url = f"http://{collector.http_endpoint}/v1/traces"
    assert requests.post(url, data=req.SerializeToString(), headers=PROTOBUF, timeout=10).status_code == 200
    first = wait_for(lambda: sink.spans.get("6" * 16), 15, "first delivery")
    assert len(findings(first)) == 1
    # The annotated span comes back (a redelivery, or a second collector in a chain): no second event.
    again = ExportTraceServiceRequest()
    again.resource_spans.add().scope_spans.add().spans.append(first)
    again.resource_spans[0].scope_spans[0].spans[0].span_id = bytes.fromhex("7" * 16)
    assert requests.post(url, data=again.SerializeToString(), headers=PROTOBUF, timeout=10).status_code == 200
    second = wait_for(lambda: sink.spans.get("7" * 16), 15, "second delivery")
    assert len(findings(second)) == 1
    assert [kv.key for kv in second.attributes].count(semconv.COT_FLAGGED) == 1


def test_logs_run_through_the_detectors(shared):
    sink, collector = shared
    req = ExportLogsServiceRequest()
    rl = req.resource_logs.add()
    rl.resource.attributes.add(key="service.name").value.string_value = "claude-code"
    records = rl.scope_logs.add().log_records
    rec = records.add(time_unix_nano=1_000)
    rec.body.string_value = "claude_code.tool_result"
    for k, v in {"event.name": "tool_result", "session.id": "s-1", "tool_name": "Bash",
                 "tool_parameters": json.dumps({"command": "rm -rf /"})}.items():
        rec.attributes.add(key=k).value.string_value = v
    benign = records.add(time_unix_nano=2_000)
    benign.body.string_value = "all tests passed"
    r = requests.post(f"http://{collector.http_endpoint}/v1/logs", data=req.SerializeToString(), headers=PROTOBUF,
                      timeout=10)
    assert r.status_code == 200
    wait_for(lambda: len([lr for lr in sink.logs if lr.time_unix_nano in (1_000, 2_000)]) >= 2, 15, "log records")
    flagged = [lr for lr in sink.logs if lr.time_unix_nano == 1_000][0]
    plain = [lr for lr in sink.logs if lr.time_unix_nano == 2_000][0]
    assert attrs(flagged)[semconv.COT_FLAGGED] is True
    assert semconv.COT_FLAGGED not in attrs(plain)


def test_metrics_pass_through_and_findings_counter(shared):
    sink, collector = shared
    req = ExportMetricsServiceRequest()
    metric = req.resource_metrics.add().scope_metrics.add().metrics.add(name="app.requests")
    metric.sum.data_points.add(as_int=7)
    r = requests.post(f"http://{collector.http_endpoint}/v1/metrics", data=req.SerializeToString(),
                      headers=PROTOBUF, timeout=10)
    assert r.status_code == 200
    names = lambda: {m.name for r in list(sink.metrics) for rm in r.resource_metrics  # noqa: E731
                     for sm in rm.scope_metrics for m in sm.metrics}
    wait_for(lambda: "app.requests" in names(), 15, "the passed-through metric")
    requests.post(f"http://{collector.http_endpoint}/v1/traces", headers=PROTOBUF, timeout=10,
                  data=raw_span_request("8" * 32, "9" * 16, "rm -rf /", service="counted").SerializeToString())

    def counted() -> bool:
        for r in list(sink.metrics):
            for rm in r.resource_metrics:
                for sm in rm.scope_metrics:
                    for m in sm.metrics:
                        if m.name == semconv.COT_FINDINGS_METRIC:
                            for dp in m.sum.data_points:
                                a = attrs(dp)
                                if a.get("service.name") == "counted" and a[semconv.COT_FINDING_CATEGORY] == \
                                        "destructive_action":
                                    return dp.as_int >= 1
        return False
    wait_for(counted, 15, "the cot.findings counter for service 'counted'")


def test_ops_endpoints(shared):
    sink, collector = shared
    # A span of its own, so that the receiver's counters exist whichever tests of the module ran before.
    req = raw_span_request("3" * 32, "4" * 16)
    r = requests.post(f"http://{collector.http_endpoint}/v1/traces", data=req.SerializeToString(), headers=PROTOBUF,
                      timeout=10)
    assert r.status_code == 200
    wait_for(lambda: "4" * 16 in sink.spans, 15, "the span")
    assert requests.get(collector.ops + "/healthz", timeout=5).json() == {"status": "ok"}
    assert requests.get(collector.ops + "/readyz", timeout=5).status_code == 200
    text = requests.get(collector.ops + "/metrics", timeout=5).text
    assert "otelcot_receiver_accepted_items_total" in text and "otelcot_queue_bytes" in text


def test_sampling_keeps_flagged_traces_whole(sink, make_collector):
    collector = make_collector(sink, keep_fraction=0.0).start()
    url = f"http://{collector.http_endpoint}/v1/traces"
    flagged = raw_span_request("a" * 32, "a" * 16, "git push --force")
    sibling = raw_span_request("a" * 32, "b" * 16, "ls")  # same trace, separate request, no finding
    plain = raw_span_request("c" * 32, "c" * 16, "ls")
    for req in (sibling, flagged, plain):
        assert requests.post(url, data=req.SerializeToString(), headers=PROTOBUF, timeout=10).status_code == 200
    wait_for(lambda: {"a" * 16, "b" * 16} <= set(sink.spans), 15, "the flagged trace, whole")
    wait_for(lambda: collector.metric("otelcot_sampled_out_spans_total") >= 1, 10, "the plain trace sampled out")
    assert "c" * 16 not in sink.spans
