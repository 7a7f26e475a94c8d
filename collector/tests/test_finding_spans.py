"""A finding about a span the collector already exported becomes a ``cot.finding`` child span of it."""

from __future__ import annotations

import json
import os

import pytest
import requests
from collector_support import Collector, Sink, collector_config, wait_for
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from otel_cot import semconv

pytestmark = pytest.mark.process

# the plugin module the in-process test uses too
PLUGIN_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                          "tests", "detectors")
TRACE = "ab" * 16
REASONING, TOOL = "1" * 16, "2" * 16


def _request(*spans: tuple[str, str, dict[str, str]], trace: str = TRACE) -> bytes:
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    rs.resource.attributes.add(key="service.name").value.string_value = "agent"
    scope = rs.scope_spans.add()
    for n, (span_hex, name, attributes) in enumerate(spans):
        span = scope.spans.add(trace_id=bytes.fromhex(trace), span_id=bytes.fromhex(span_hex), name=name,
                               start_time_unix_nano=1_000 + n, end_time_unix_nano=2_000 + n)
        for key, value in attributes.items():
            span.attributes.add(key=key).value.string_value = value
    return req.SerializeToString()


_PLAN = {semconv.COT_REASONING_CONTENT: "I'll hard-code it."}
_EDIT = {semconv.GEN_AI_TOOL_NAME: "edit", semconv.GEN_AI_TOOL_CALL_ARGUMENTS: json.dumps({"path": "a.py"})}


def test_finding_about_an_exported_span_is_its_child_span(tmp_path, monkeypatch):
    (tmp_path / "detectors.yaml").write_text("detectors:\n  builtin: false\n  entry_points: false\n"
                                             "  plugins: ['earlier_span_plugin:make']\n")
    monkeypatch.setenv("PYTHONPATH", PLUGIN_DIR)
    sink = Sink().start()
    cfg = collector_config(str(tmp_path / "queue"), sink)
    cfg["processors"]["detect"]["config_file"] = str(tmp_path / "detectors.yaml")
    collector = Collector(cfg, str(tmp_path)).start()
    try:
        url = f"http://{collector.http_endpoint}/v1/traces"
        headers = {"Content-Type": "application/x-protobuf"}
        body = _request((REASONING, "reasoning", _PLAN))
        assert requests.post(url, data=body, headers=headers, timeout=10).status_code == 200
        wait_for(lambda: REASONING in sink.spans, 15, "the reasoning span, exported with its own flush")
        body = _request((TOOL, "execute_tool edit", _EDIT))
        assert requests.post(url, data=body, headers=headers, timeout=10).status_code == 200

        def child():
            return next((s for s in list(sink.spans.values()) if s.name == semconv.COT_FINDING_SPAN_NAME), None)

        span = wait_for(child, 15, "the cot.finding span")
        assert span.trace_id.hex() == TRACE and span.parent_span_id.hex() == REASONING
        attrs = {kv.key: kv.value for kv in span.attributes}
        assert attrs[semconv.COT_FLAGGED].bool_value is True
        assert [v.string_value for v in attrs[semconv.COT_FINDING_CATEGORIES].array_value.values] == ["reward_hacking"]
        event = {kv.key: kv.value.string_value for kv in span.events[0].attributes}
        assert event[semconv.COT_FINDING_RELATED_SPAN_ID] == TOOL
        assert event[semconv.COT_FINDING_DETECTOR] == "test.on_earlier"
        # the tool span itself is exported unannotated: the finding is about the reasoning
        tool = wait_for(lambda: sink.spans.get(TOOL), 15, "the tool span")
        assert semconv.COT_FLAGGED not in {kv.key for kv in tool.attributes}

        # both spans held together: the finding is written onto the earlier span itself, no extra span
        body = _request(("3" * 16, "reasoning", _PLAN), ("4" * 16, "execute_tool edit", _EDIT), trace="cd" * 16)
        assert requests.post(url, data=body, headers=headers, timeout=10).status_code == 200
        planned = wait_for(lambda: sink.spans.get("3" * 16), 15, "the held reasoning span")
        assert {kv.key: kv.value for kv in planned.attributes}[semconv.COT_FLAGGED].bool_value is True
        assert sum(s.name == semconv.COT_FINDING_SPAN_NAME for s in list(sink.spans.values())) == 1
    finally:
        collector.stop()
        sink.stop()
