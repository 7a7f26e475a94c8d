"""E2E 2 — an existing stack: the app exports to a real OpenTelemetry Collector (ocb build), which forwards
to the otel-cot collector and on to Jaeger; or the SDK detects in-process and the OpenTelemetry Collector
forwards straight to Jaeger; or both, and the findings are still written once."""

from __future__ import annotations

from collections import Counter

import pytest

from .support import findings, run_agent, serve_session, stored_trace, whole_session

pytestmark = pytest.mark.e2e


def _otlp(endpoint: str) -> dict:
    return {"endpoint": endpoint, "tls": {"insecure": True}}


@pytest.mark.parametrize("where", ["collector", "in_process", "both"])
def test_behind_an_opentelemetry_collector(where, replay, jaeger, make_collector, make_otelcol):
    detect_in_process = where in ("in_process", "both")
    if where == "in_process":
        otelcol = make_otelcol({"otlp_grpc/jaeger": _otlp(jaeger.otlp_grpc)}, ["otlp_grpc/jaeger"])
    else:
        collector = make_collector(jaeger.otlp_grpc, http=False, wait="300ms")
        otelcol = make_otelcol({"otlp_grpc/otel-cot": _otlp(collector.otlp_grpc)}, ["otlp_grpc/otel-cot"])
    serve_session(replay)
    trace_id = run_agent(replay.url, otelcol.otlp_http, detect=detect_in_process)

    spans = stored_trace(jaeger, trace_id, whole_session)
    assert len({s["spanId"] for s in spans}) == len(spans) == 8, [s["name"] for s in spans]
    assert len([s for s in spans if s["name"].startswith("reasoning ")]) == 2
    # every finding written exactly once, even when two otel-cot stages judged the span
    keys = Counter((span_id, f["cot.finding.detector"], f["cot.finding.evidence_location"])
                   for span_id, f in findings(spans))
    assert sorted(f["cot.finding.category"] for _, f in findings(spans)) == ["destructive_action", "reward_hacking"]
    assert set(keys.values()) == {1}
    flagged = [s for s in spans if s["attrs"].get("cot.flagged") is True]
    assert len(flagged) == 2 and all(s["attrs"]["cot.finding.max_severity"] == "high" for s in flagged)
