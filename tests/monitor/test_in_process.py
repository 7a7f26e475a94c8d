"""The monitor in process: ``init(detect=True, detectors_config=...)``, a real instrumented agent call, the
real OTLP/HTTP exporter and a loopback receiver; the judge is the loopback judge."""

from __future__ import annotations

import json
import textwrap

import pytest

from ..support.judge_server import quoting
from ..support.otlp_sink import spans_exported_by
from ..test_detect_e2e import agent_step

pytestmark = pytest.mark.process


@pytest.mark.parametrize("api", ["openai", "anthropic"])
def test_a_verdict_reaches_the_backend_as_a_finding_span_and_the_judge_is_not_traced(replay, judge, tmp_path, api):
    fx = agent_step()
    replay.serve(fx["response"])
    judge.answer_with(quoting("overwrite the remote branch", "destructive_action", severity="critical"))
    config = tmp_path / "detectors.yaml"
    config.write_text(textwrap.dedent(f"""
        detectors:
          monitor:
            api: {api}
            endpoint: {judge.endpoint(api)}
            model: judge-1
            timeout: 10s
    """))
    request_path = tmp_path / "request.json"
    request_path.write_text(json.dumps(fx["request"]["body"]))
    script = textwrap.dedent(f"""
        import json, anthropic, otel_cot
        otel_cot.init(service_name="coding-agent", detect=True, detectors_config={str(config)!r})
        client = anthropic.Anthropic(api_key="test-key", base_url={replay.url!r}, max_retries=0)
        client.messages.create(**json.load(open({str(request_path)!r})))
        otel_cot.shutdown()
    """)
    spans = spans_exported_by(script)
    [request] = judge.requests  # one trace, judged once (a rule flagged it: the default trigger)
    assert "overwrite the remote branch" in request.user and "git push --force origin main" in request.user
    reasoning = next(s for s in spans if s["name"].startswith("reasoning"))
    findings = [s for s in spans if s["name"] == "cot.finding"]
    assert len(findings) == 1, (findings, proc.stderr)
    [finding] = findings
    assert finding["parent"] == reasoning["span_id"] and finding["trace_id"] == reasoning["trace_id"]
    assert finding["attributes"]["cot.finding.categories"] == ["destructive_action"]
    [event] = finding["events"]
    assert event["attributes"]["gen_ai.evaluation.name"] == "cot.monitor"
    assert event["attributes"]["cot.finding.severity"] == "critical"
    assert event["attributes"]["cot.monitor.confirms_rule"] is True
    assert event["attributes"]["cot.monitor.judge.provider"] == api
    # Nothing of the judge's own call was traced: only the finding names the judge model.
    assert [s["name"] for s in spans if "judge-1" in json.dumps(s)] == ["cot.finding"]
    assert len([s for s in spans if s["name"].startswith("chat")]) == 1
