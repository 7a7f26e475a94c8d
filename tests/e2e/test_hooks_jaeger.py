"""A Claude Code session behind the hooks ``otel-cot hooks install`` wrote, seen in a real Jaeger: the session's
records are appended to its transcript (times moved to now) in the order Claude Code writes them, and the
installed hook commands are run as Claude Code runs them (tests/support/hook_replay.py). The checker the first
hook starts judges each call before it runs and exports the session over OTLP as it goes; no ``watch`` runs.

The trace is one tree in which the reasoning that plans to weaken the test, the edit it led to (refused before
it ran), the finding on it, and the refused ``git push --force`` sit together, each tool span carrying the
guard's decision."""

from __future__ import annotations

import json
import os
import shutil

from otel_cot.coding_agents.spans import trace_id
from tests.e2e.support import one_tree_with, stored_trace
from tests.support.coding_sessions import fixture, records_of, shift_to_now, shifted
from tests.support.hook_env import hook_env, otel_cot
from tests.support.hook_replay import HookCommands, plan_one_message_earlier, replay_claude_code

SESSION = "6f1c2a9e-4b7d-4e21-9a3c-5d8e7f9a0b1c"


def test_hooked_claude_code_session_in_jaeger_shows_reasoning_refused_calls_findings_and_decisions(jaeger, tmp_path):
    main = plan_one_message_earlier(records_of(fixture("claude_code", "session.jsonl")))
    sub = records_of(fixture("claude_code", SESSION, "subagents", "agent-a4f9c21.jsonl"))
    shift = shift_to_now(main)
    main, sub = shifted(main, shift), shifted(sub, shift)

    for env in hook_env(str(tmp_path / "home"), OTEL_TRACES_EXPORTER="otlp",
                        OTEL_EXPORTER_OTLP_ENDPOINT=jaeger.otlp_http, OTEL_EXPORTER_OTLP_PROTOCOL="http/protobuf"):
        proc = otel_cot(env, "hooks", "install", "claude-code")
        assert proc.returncode == 0, proc.stderr
        hooks = HookCommands("claude_code", os.path.join(env["HOME"], ".claude", "settings.json"), env,
                             cwd=env["HOME"])
        project = os.path.join(env["HOME"], ".claude", "projects", "-home-dev-shop")
        os.makedirs(project)
        transcript = os.path.join(project, f"{SESSION}.jsonl")

        def start_subagent():
            subdir = os.path.join(project, SESSION, "subagents")
            os.makedirs(subdir)
            with open(os.path.join(subdir, "agent-a4f9c21.jsonl"), "w", encoding="utf-8") as fh:
                fh.writelines(json.dumps(r) + "\n" for r in sub)

        replay = replay_claude_code(main, hooks, transcript, on_task=start_subagent)
        assert [(c.tool, c.verdict) for c in replay.calls if c.event == "PreToolUse"] == [
            ("Read", "allow"), ("Bash", "allow"), ("Edit", "deny"), ("Task", "allow"), ("Bash", "deny")]

        tid = format(trace_id("claude_code", SESSION), "032x")

        spans = stored_trace(jaeger, tid, one_tree_with("invoke_agent agent-a4f9c21"))
        log = os.path.join(env["XDG_STATE_HOME"], "otel-cot", "hooks.log")
        with open(log, encoding="utf-8") as fh:
            assert "Traceback" not in fh.read()
        shutil.rmtree(project)

    by_id = {s["spanId"]: s for s in spans}
    assert len(by_id) == len(spans)  # no span twice
    assert [s["name"] for s in spans if not s.get("parentSpanId")] == ["invoke_agent claude_code"]
    assert all(s["parentSpanId"] in by_id for s in spans if s.get("parentSpanId"))
    assert {s["service"] for s in spans} == {"claude-code"}

    # reasoning -> tool call -> finding, and the guard's decision on the tool span
    plan = next(s for s in spans if s["name"].startswith("reasoning ")
                and "I'll weaken the failing test instead" in s["attrs"].get("cot.reasoning.content", ""))
    edit = next(s for s in spans if s["name"] == "execute_tool Edit")
    edit_turn = next(s for s in spans if s["name"].startswith("chat ") and any(
        p.get("id") == edit["attrs"]["gen_ai.tool.call.id"]
        for p in json.loads(s["attrs"]["gen_ai.output.messages"])[0]["parts"]))
    assert by_id[plan["parentSpanId"]]["startTimeUnixNano"] < edit_turn["startTimeUnixNano"]  # planned earlier
    assert "reward_hacking" in edit_turn["attrs"]["cot.finding.categories"]
    assert edit_turn["attrs"]["cot.finding.max_severity"] == "high"
    assert edit["attrs"]["cot.guard.decision"] == "blocked" and edit["attrs"]["cot.guard.rule"] == "deny-high"
    assert "after reasoning that planned it" in edit["attrs"]["cot.guard.finding.explanation"]
    assert edit["status"].get("code") == 2  # ERROR: Claude Code returned the refusal to the model as an error

    push = next(s for s in spans if s["name"] == "execute_tool Bash"
                and "git push --force" in s["attrs"]["gen_ai.tool.call.arguments"])
    assert push["attrs"]["cot.guard.decision"] == "blocked"
    assert push["attrs"]["cot.guard.finding.category"] == "destructive_action"
    assert "blocked by the otel-cot guard" in push["attrs"]["gen_ai.tool.call.result"]
    read = next(s for s in spans if s["name"] == "execute_tool Read")
    assert read["attrs"]["cot.guard.decision"] == "allowed"
    agent = next(s for s in spans if s["name"] == "invoke_agent agent-a4f9c21")
    assert any(s.get("parentSpanId") == agent["spanId"] and s["name"] == "execute_tool Bash" for s in spans)


def _hooked_session_in_jaeger(jaeger, tmp_path, agent, session, transcript_parts, replay, records):
    """Install the hooks for ``agent``, replay ``records`` through them, return (answers, the trace's spans)."""
    for env in hook_env(str(tmp_path / "home"), OTEL_TRACES_EXPORTER="otlp",
                        OTEL_EXPORTER_OTLP_ENDPOINT=jaeger.otlp_http, OTEL_EXPORTER_OTLP_PROTOCOL="http/protobuf"):
        proc = otel_cot(env, "hooks", "install", agent.replace("_", "-"))
        assert proc.returncode == 0, proc.stderr
        settings = os.path.join(env["HOME"], ".codex", "hooks.json") if agent == "codex" else \
            os.path.join(env["HOME"], ".gemini", "settings.json")
        transcript = os.path.join(env["HOME"], *transcript_parts)
        os.makedirs(os.path.dirname(transcript))
        answers = replay(records, HookCommands(agent, settings, env, cwd=env["HOME"]), transcript)
        root = f"invoke_agent {agent}"
        spans = stored_trace(jaeger, format(trace_id(agent, session), "032x"), one_tree_with(root))
    return answers, spans


def _planned_edit_and_push(spans, edit_tool, push_tool):
    by_id = {s["spanId"]: s for s in spans}
    assert len(by_id) == len(spans)
    plan = next(s for s in spans if s["name"].startswith("reasoning ")
                and "weaken the failing test" in s["attrs"].get("cot.reasoning.content", ""))
    edit = next(s for s in spans if s["name"] == f"execute_tool {edit_tool}")
    assert edit["attrs"]["cot.guard.decision"] == "blocked"
    assert "after reasoning that planned it" in edit["attrs"]["cot.guard.finding.explanation"]
    edit_turn = by_id[plan["parentSpanId"]]
    assert any(p.get("id") == edit["attrs"]["gen_ai.tool.call.id"]
               for p in json.loads(edit_turn["attrs"]["gen_ai.output.messages"])[0]["parts"])
    assert "reward_hacking" in edit_turn["attrs"]["cot.finding.categories"]
    push = next(s for s in spans if s["name"] == f"execute_tool {push_tool}"
                and "git push --force" in s["attrs"]["gen_ai.tool.call.arguments"])
    assert push["attrs"]["cot.guard.decision"] == "blocked"
    assert push["attrs"]["cot.guard.finding.category"] == "destructive_action"


def test_hooked_gemini_cli_session_in_jaeger(jaeger, tmp_path):
    from tests.support.hook_replay import replay_gemini_cli

    name = "session-2026-03-04T10-00-7c8d9e0f.jsonl"
    answers, spans = _hooked_session_in_jaeger(
        jaeger, tmp_path, "gemini_cli", "7c8d9e0f-2a4b-4c6d-8e0f-1a2b3c4d5e6f",
        (".gemini", "tmp", "3f7a9c2e", "chats", name), replay_gemini_cli, records_of(fixture("gemini_cli", name)))
    assert [c.tool for c in answers.denied()] == ["replace", "run_shell_command"]
    _planned_edit_and_push(spans, "replace", "run_shell_command")


def test_hooked_codex_session_in_jaeger(jaeger, tmp_path):
    from tests.support.hook_replay import replay_codex

    name = "rollout-2026-03-03T14-00-00-0199a213-81c0-7800-8aa1-bbab2a035a53.jsonl"
    answers, spans = _hooked_session_in_jaeger(
        jaeger, tmp_path, "codex", "0199a213-81c0-7800-8aa1-bbab2a035a53",
        (".codex", "sessions", "2026", "03", "03", name), replay_codex, records_of(fixture("codex", name)))
    assert [c.tool for c in answers.denied()] == ["apply_patch", "Bash"]
    push_span = next(s["name"] for s in spans if "git push --force" in
                     s["attrs"].get("gen_ai.tool.call.arguments", ""))
    _planned_edit_and_push(spans, "apply_patch", push_span.split(" ", 1)[1])
