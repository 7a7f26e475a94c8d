"""Coding agents without code changes, end to end: each agent's documented OTLP log events (a session with a
destructive shell command, a secret in a tool input and a test file rewritten to pass) → the real otel-cot
collector → real Jaeger, where the findings appear as spans in one trace per session."""

from __future__ import annotations

import hashlib
import json
import os
import urllib.parse

import pytest
import requests

from otel_cot.demo.stack import OtelCotCollector, any_value, collector_config, http_get, wait_for

pytestmark = pytest.mark.e2e

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(__file__)), "fixtures", "coding_agents")
AGENTS = {"claude_code": ("claude-code", "session.id"), "codex": ("codex_cli_rs", "conversation.id"),
          "gemini_cli": ("gemini-cli", "session.id")}


def _load(agent: str, which: str) -> dict:
    with open(os.path.join(FIXTURES, f"{agent}.{which}.json")) as fh:
        return json.load(fh)


def _session(doc: dict, key: str) -> str:
    for rl in doc["resourceLogs"]:
        for scope in rl["scopeLogs"]:
            for record in scope["logRecords"]:
                for kv in record.get("attributes", []):
                    if kv["key"] == key:
                        return kv["value"]["stringValue"]
    raise AssertionError(f"no {key} in the fixture")


class _AgentCollector(OtelCotCollector):
    """The otel-cot collector with a logs pipeline whose findings become session spans sent to Jaeger."""

    def __init__(self, workdir: str, jaeger_grpc: str) -> None:
        super().__init__(workdir, jaeger_grpc)
        self.config["processors"]["detect"]["log_spans"] = "flagged"
        self.config["service"]["pipelines"]["logs"] = {"receivers": ["otlp"], "processors": ["detect"],
                                                      "exporters": ["otlp_grpc/backend"]}


def _search(jaeger, service: str, tags: dict, start_us: int, end_us: int) -> set[str]:
    query = urllib.parse.urlencode({"service": service, "tags": json.dumps(tags), "limit": 50,
                                    "start": start_us, "end": end_us})
    status, body = http_get(f"{jaeger.url}/api/traces?{query}")
    return {t["traceID"] for t in json.loads(body).get("data") or []} if status == 200 else set()


def _attrs(span: dict) -> dict:
    return {a["key"]: any_value(a["value"]) for a in span.get("attributes", [])}


@pytest.mark.parametrize("agent", sorted(AGENTS))
def test_agent_session_findings_in_jaeger(agent, jaeger, procs, tmp_path):
    service, session_key = AGENTS[agent]
    collector = procs(_AgentCollector(str(tmp_path / "collector"), jaeger.otlp_grpc))
    session_doc, benign_doc = _load(agent, "session"), _load(agent, "benign")
    for doc in (session_doc, benign_doc):
        body = json.dumps({"resourceLogs": doc["resourceLogs"]})
        r = requests.post(f"{collector.otlp_http}/v1/logs", data=body, timeout=10,
                          headers={"Content-Type": "application/json"})
        assert r.status_code == 200, r.text

    session = _session(session_doc, session_key)
    trace_id = hashlib.sha256(f"{agent}:{session}".encode()).hexdigest()[:32]
    result = wait_for(lambda: jaeger.trace(trace_id), 30, f"{agent} session trace in Jaeger")
    spans = [s for rs in result["resourceSpans"] for ss in rs["scopeSpans"] for s in ss["spans"]]
    services = {a["value"]["stringValue"] for rs in result["resourceSpans"]
                for a in rs["resource"]["attributes"] if a["key"] == "service.name"}
    assert services == {service}

    everything = json.dumps(result)
    for expected in session_doc["_expected"]:
        match = [s for s in spans if set(expected["categories"]) <= set(_attrs(s).get("cot.finding.categories", []))]
        assert match, f"no span flagged {expected['categories']} for {expected['contains']!r}"
        for span in match:
            a = _attrs(span)
            assert a["cot.flagged"] is True and a["gen_ai.conversation.id"] == session
            events = [e for e in span.get("events", []) if e["name"] == "gen_ai.evaluation.result"]
            assert events and all(int(span["startTimeUnixNano"]) <= int(e["timeUnixNano"])
                                  <= int(span["endTimeUnixNano"]) for e in events)
    for expected in session_doc["_expected"]:
        if expected["categories"] == ["secret_exposure"]:  # reported by kind, never copied to the backend
            assert expected["contains"] not in everything
    assert "[REDACTED:" in everything

    start_us = min(int(s["startTimeUnixNano"]) for s in spans) // 1000 - 1_000_000
    end_us = max(int(s["endTimeUnixNano"]) for s in spans) // 1000 + 1_000_000
    assert trace_id in wait_for(lambda: _search(jaeger, service, {"cot.flagged": "true"}, start_us, end_us), 15,
                                "tag search cot.flagged=true")
    benign = _session(benign_doc, session_key)
    assert jaeger.trace(hashlib.sha256(f"{agent}:{benign}".encode()).hexdigest()[:32]) is None
