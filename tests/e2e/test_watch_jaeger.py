"""A Claude Code session as it happens, seen in a real Jaeger through ``otel-cot watch --detect``: the session's
lines are appended to its transcript (times moved to now) while ``watch`` follows the directory; the trace in
Jaeger is one tree in which the reasoning that plans to weaken a test and the reasoning about pushing sit next
to the tool calls they led to, with the findings on them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from otel_cot.coding_agents.spans import trace_id
from tests.e2e.support import one_tree_with, stored_trace
from tests.support.coding_sessions import fixture, records_of, shift_to_now, shifted

SESSION = "6f1c2a9e-4b7d-4e21-9a3c-5d8e7f9a0b1c"


def test_watched_claude_code_session_shows_reasoning_tool_call_and_finding_in_jaeger(jaeger, tmp_path):
    home = tmp_path / "home"
    project = home / ".claude" / "projects" / "-home-dev-shop"
    project.mkdir(parents=True)
    main = records_of(fixture("claude_code", "session.jsonl"))
    sub = records_of(fixture("claude_code", SESSION, "subagents", "agent-a4f9c21.jsonl"))
    shift = shift_to_now(main)
    main, sub = _lines(shifted(main, shift)), _lines(shifted(sub, shift))

    env = dict(os.environ, HOME=str(home), XDG_STATE_HOME=str(tmp_path / "state"),
               OTEL_EXPORTER_OTLP_ENDPOINT=jaeger.otlp_http, OTEL_EXPORTER_OTLP_PROTOCOL="http/protobuf",
               OTEL_TRACES_EXPORTER="otlp")
    for var in ("CLAUDE_CONFIG_DIR", "CODEX_HOME", "GEMINI_CLI_HOME"):
        env.pop(var, None)
    watch = subprocess.Popen([sys.executable, "-m", "otel_cot.cli", "watch", "--detect", "--agent", "claude_code",
                              "--poll", "0.1", "--idle", "2"], env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
    try:
        transcript = project / f"{SESSION}.jsonl"
        for i, line in enumerate(main):  # the agent writes its transcript record by record
            with open(transcript, "ab") as fh:
                fh.write(line)
            if i == 12:  # the Task call starts its subagent, which writes its own file
                subdir = project / SESSION / "subagents"
                subdir.mkdir(parents=True)
                (subdir / "agent-a4f9c21.jsonl").write_bytes(b"".join(sub))
            time.sleep(0.05)

        tid = format(trace_id("claude_code", SESSION), "032x")

        spans = stored_trace(jaeger, tid, one_tree_with("invoke_agent agent-a4f9c21"))
    finally:
        watch.terminate()
        _, stderr = watch.communicate(timeout=20)
    assert watch.returncode == 0, stderr

    by_id = {s["spanId"]: s for s in spans}
    # one tree: a single root, every other span's parent is in the trace
    assert [s["name"] for s in spans if not s.get("parentSpanId")] == ["invoke_agent claude_code"]
    assert all(s["parentSpanId"] in by_id for s in spans if s.get("parentSpanId"))
    assert {s["service"] for s in spans} == {"claude-code"}
    assert len(by_id) == len(spans)  # no span twice

    def chat_with_reasoning(words):
        reasoning = next(s for s in spans if s["name"].startswith("reasoning ")
                         and words in s["attrs"].get("cot.reasoning.content", ""))
        return by_id[reasoning["parentSpanId"]]

    edit_turn = chat_with_reasoning("I'll weaken the failing test instead")
    assert "reward_hacking" in edit_turn["attrs"]["cot.finding.categories"]
    assert edit_turn["attrs"]["cot.finding.max_severity"] == "high"
    edit_call = next(p for p in json.loads(edit_turn["attrs"]["gen_ai.output.messages"])[0]["parts"]
                     if p["type"] == "tool_call")
    edit = next(s for s in spans if s["attrs"].get("gen_ai.tool.call.id") == edit_call["id"])
    assert edit["name"] == "execute_tool Edit" and "assert cart.total() == 108" in \
        edit["attrs"]["gen_ai.tool.call.arguments"]
    assert any(e["name"] == "gen_ai.evaluation.result" and e["attrs"].get("gen_ai.evaluation.name")
               for e in edit_turn["eventList"])

    push_turn = chat_with_reasoning("I'll push with --force")
    assert "destructive_action" in push_turn["attrs"]["cot.finding.categories"]
    push = next(s for s in spans if s["name"] == "execute_tool Bash"
                and "git push --force" in s["attrs"]["gen_ai.tool.call.arguments"])
    assert push["parentSpanId"] == edit_turn["parentSpanId"]  # siblings under the session's root
    assert "forced update" in push["attrs"]["gen_ai.tool.call.result"]
    # the subagent's work hangs under its own invoke_agent span, in the same trace
    agent = next(s for s in spans if s["name"] == "invoke_agent agent-a4f9c21")
    assert any(s.get("parentSpanId") == agent["spanId"] and s["name"] == "execute_tool Bash" for s in spans)


def _lines(records: list[dict]) -> list[bytes]:
    return [(json.dumps(record, ensure_ascii=False) + "\n").encode() for record in records]
