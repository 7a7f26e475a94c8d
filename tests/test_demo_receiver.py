"""The demo's loopback OTLP/HTTP receiver: what the real OTLP exporter sends (protobuf, gzip or not) comes
back as OTLP JSON with hex ids; bad requests get a status, never a stored half."""

from __future__ import annotations

import gzip
import json
import urllib.error
import urllib.request

import pytest
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from otel_cot.demo.receiver import TraceReceiver


@pytest.fixture
def receiver():
    r = TraceReceiver(max_spans=5)
    yield r
    r.close()


def _post(url: str, body: bytes, content_type: str = "application/x-protobuf", **headers: str) -> int:
    req = urllib.request.Request(url, data=body, method="POST", headers={"content-type": content_type, **headers})
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status
    except urllib.error.HTTPError as e:
        return e.code


@pytest.mark.parametrize("compression", [Compression.Gzip, Compression.NoCompression])
def test_spans_from_the_otlp_exporter_come_back_as_otlp_json(receiver, compression):
    provider = TracerProvider(resource=Resource.create({"service.name": "svc"}))
    exporter = OTLPSpanExporter(endpoint=receiver.url + "/v1/traces", compression=compression)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("t")
    with tracer.start_as_current_span("parent") as parent:
        with tracer.start_as_current_span("child", attributes={"k": "v", "n": 3}):
            pass
    provider.shutdown()
    ctx = parent.get_span_context()
    trace_id = format(ctx.trace_id, "032x")
    doc = receiver.trace(trace_id)
    spans = {s["name"]: s for rs in doc["resourceSpans"] for ss in rs["scopeSpans"] for s in ss["spans"]}
    assert spans["child"]["traceId"] == trace_id
    assert spans["child"]["parentSpanId"] == spans["parent"]["spanId"] == format(ctx.span_id, "016x")
    assert {"key": "k", "value": {"stringValue": "v"}} in spans["child"]["attributes"]
    assert doc["resourceSpans"][0]["resource"]["attributes"][0]["key"] in ("service.name", "telemetry.sdk.language")
    assert receiver.trace("0" * 32) is None


def test_bad_requests_get_a_status_and_store_nothing(receiver):
    url = receiver.url
    assert _post(url + "/v1/traces", b"\xff\x00 not protobuf") == 400
    assert _post(url + "/v1/traces", b"not gzip", **{"content-encoding": "gzip"}) == 400
    assert _post(url + "/v1/traces", b"[1, 2]", "application/json") == 400
    assert _post(url + "/v1/logs", b"") == 404
    span = {"traceId": "ab" * 16, "spanId": "cd" * 8, "name": "s"}
    doc = {"resourceSpans": [{"scopeSpans": [{"spans": [span] * 3}]}]}
    assert _post(url + "/v1/traces", gzip.compress(json.dumps(doc).encode()), "application/json",
                 **{"content-encoding": "gzip"}) == 200
    assert _post(url + "/v1/traces", json.dumps(doc).encode(), "application/json") == 507  # over max_spans
    assert len(receiver.trace("ab" * 16)["resourceSpans"][0]["scopeSpans"][0]["spans"]) == 3
