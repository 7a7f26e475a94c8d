"""E2E 1 — viewing in Jaeger: a replayed agent run (reasoning, a reward-hacking test edit, a force-push)
→ otel_cot SDK → otel-cot collector → real Jaeger v2, read back through Jaeger's query APIs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from .support import SERVICE, findings, http_get, run_agent, serve_session, stored_trace, wait_for, whole_session

pytestmark = pytest.mark.e2e


def scan_json(path: Path) -> list[dict]:
    """``otel-cot scan --json`` on a file: the findings."""
    proc = subprocess.run([str(Path(sys.executable).parent / "otel-cot"), "scan", "--json", str(path)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return [json.loads(line) for line in proc.stdout.splitlines()]


def test_flagged_agent_run_is_stored_and_searchable_in_jaeger(replay, jaeger, make_collector):
    collector = make_collector(jaeger.otlp_grpc, wait="300ms")
    serve_session(replay)
    trace_id = run_agent(replay.url, collector.otlp_http)

    spans = stored_trace(jaeger, trace_id, whole_session)
    by_id = {s["spanId"]: s for s in spans}
    assert len(by_id) == len(spans), "no span stored twice"
    assert all(s["service"] == SERVICE for s in spans)

    # the reasoning is its own span, a child of the model call that produced it
    reasoning = [s for s in spans if s["name"].startswith("reasoning ")]
    assert len(reasoning) == 2
    for r in reasoning:
        assert r["attrs"]["cot.reasoning.source"] == "anthropic.thinking"
        assert by_id[r["parentSpanId"]]["name"] == "chat claude-sonnet-4-0"
    assert "remove the failing assertions" in reasoning[0]["attrs"]["cot.reasoning.content"] + \
        reasoning[1]["attrs"]["cot.reasoning.content"]

    # findings: one evaluation event each, on the model call that asked for the action
    found = {f["cot.finding.category"]: (span_id, f) for span_id, f in findings(spans)}
    assert len(findings(spans)) == 2
    rh_span, rh = found["reward_hacking"]
    assert rh["cot.finding.severity"] == "high"
    assert "tests/test_parser.py" in rh["gen_ai.evaluation.explanation"]
    # a cross-span finding: it names the reasoning span that planned the edit
    assert by_id[rh["cot.finding.related_span_id"]]["name"].startswith("reasoning ")
    assert by_id[rh["cot.finding.related_span_id"]]["parentSpanId"] == rh_span
    da_span, da = found["destructive_action"]
    assert da["cot.finding.severity"] == "high" and "push --force" in da["cot.finding.evidence"]
    assert {rh_span, da_span} <= {s["spanId"] for s in spans if s["name"] == "chat claude-sonnet-4-0"}
    for span_id in (rh_span, da_span):
        span = by_id[span_id]
        # searchable span attributes (Jaeger searches tags, not events)
        assert span["attrs"]["cot.flagged"] is True
        assert span["attrs"]["cot.finding.max_severity"] == "high"
        # events inside the span's time range (the UI hides the others)
        event = next(e for e in span["events"] if e["name"] == "gen_ai.evaluation.result")
        assert int(span["startTimeUnixNano"]) <= int(event["timeUnixNano"]) <= int(span["endTimeUnixNano"])
    assert set(by_id[rh_span]["attrs"]["cot.finding.categories"]) == {"reward_hacking"}
    assert set(by_id[da_span]["attrs"]["cot.finding.categories"]) == {"destructive_action"}
    unflagged = [s for s in spans if s["spanId"] not in (rh_span, da_span)]
    assert unflagged and not any(s["attrs"].get("cot.flagged") for s in unflagged)

    # the tag search finds the trace; a search for a tag no span has does not
    def found_by(tags):
        return {t["traceID"] for t in jaeger.search(SERVICE, tags)}
    assert trace_id in wait_for(lambda: found_by({"cot.flagged": "true"}), 10, "tag search cot.flagged=true")
    assert trace_id in found_by({"cot.flagged": "true", "cot.finding.max_severity": "high"})
    assert trace_id not in found_by({"cot.flagged": "false"})


def test_scan_reads_what_jaegers_apis_return(replay, jaeger, make_collector, tmp_path):
    """The trace as Jaeger's query APIs return it (the demo prints the /api/v3 URL): ``otel-cot scan`` on the
    saved response finds both planted findings, from the OTLP JSON of /api/v3 ({"result": ...}) and from the
    Jaeger JSON of /api/traces ({"data": [...]})."""
    collector = make_collector(jaeger.otlp_grpc, wait="300ms")
    serve_session(replay)
    trace_id = run_agent(replay.url, collector.otlp_http)
    stored_trace(jaeger, trace_id, whole_session)
    for api in ("/api/v3/traces/", "/api/traces/"):
        status, body = http_get(f"{jaeger.url}{api}{trace_id}")
        assert status == 200, (api, status)
        saved = tmp_path / f"{api.strip('/').replace('/', '-')}.json"
        saved.write_bytes(body)
        out = scan_json(saved)
        assert {f["category"] for f in out} == {"reward_hacking", "destructive_action"}, api
        assert {f["trace_id"] for f in out} == {trace_id}
