"""Each agent's hook protocol: what the checker reads from the hook's stdin, and the answer it writes back."""

from __future__ import annotations

import json

import pytest

from otel_cot.hooks import client
from otel_cot.hooks.protocol import POST, PRE, SESSION_END, TURN_END, HookInputError, agent_of, parse, tool_arguments


def _answer(agent, event, action, reason="why"):
    code, out = client.render(agent, event, action, reason)
    assert code == 0
    return json.loads(out) if out else None


def test_claude_code_answers():
    assert _answer("claude_code", "PreToolUse", client.ALLOW) is None  # no decision: Claude Code's rules apply
    for action in (client.DENY, client.ASK):
        assert _answer("claude_code", "PreToolUse", action) == {"hookSpecificOutput": {
            "hookEventName": "PreToolUse", "permissionDecision": action, "permissionDecisionReason": "why"}}
    assert _answer("claude_code", "PostToolUse", client.FEEDBACK) == {"decision": "block", "reason": "why"}
    assert _answer("claude_code", "Stop", client.DENY) is None  # never "block" at Stop: it would make Claude go on


def test_gemini_cli_answers_json_to_every_hook():
    assert _answer("gemini_cli", "BeforeTool", client.ALLOW) == {}
    assert _answer("gemini_cli", "BeforeTool", client.DENY) == {"decision": "deny", "reason": "why"}
    assert _answer("gemini_cli", "BeforeTool", client.ASK) == {"decision": "ask", "reason": "why",
                                                               "systemMessage": "why"}
    assert _answer("gemini_cli", "AfterTool", client.FEEDBACK) == {"hookSpecificOutput": {
        "hookEventName": "AfterTool", "additionalContext": "why"}}
    assert _answer("gemini_cli", "AfterAgent", client.ALLOW) == {}


def test_codex_cannot_ask_so_the_reason_becomes_a_warning():
    assert _answer("codex", "PreToolUse", client.ALLOW) is None  # Codex rejects "allow" without updatedInput
    assert _answer("codex", "PreToolUse", client.DENY)["hookSpecificOutput"]["permissionDecision"] == "deny"
    ask = _answer("codex", "PreToolUse", client.ASK)
    assert set(ask) == {"systemMessage"} and ask["systemMessage"].endswith("why")
    assert _answer("codex", "PostToolUse", client.FEEDBACK)["hookSpecificOutput"]["additionalContext"] == "why"


@pytest.mark.parametrize("agent,event,kind", [("claude_code", "PreToolUse", PRE), ("claude_code", "Stop", TURN_END),
                                              ("gemini_cli", "AfterTool", POST), ("codex", "SessionEnd", SESSION_END),
                                              ("gemini_cli", "AfterAgent", TURN_END)])
def test_events(agent, event, kind):
    payload = {"session_id": "s", "transcript_path": "/t.jsonl", "tool_name": "Bash", "tool_input": {"command": "ls"}}
    assert parse(agent, event, json.dumps(payload)).kind == kind


@pytest.mark.parametrize("payload", [b"not json", b"[]", b'{"transcript_path": "/t"}',
                                     b'{"session_id": "s", "tool_input": {}}'])
def test_bad_input_is_a_hook_input_error(payload):
    with pytest.raises(HookInputError):
        parse("claude_code", "PreToolUse", payload)


def test_an_event_otel_cot_does_not_handle():
    with pytest.raises(HookInputError):
        parse("claude_code", "UserPromptSubmit", b'{"session_id": "s"}')


def test_codex_apply_patch_is_read_as_the_patch_it_is():
    hook = parse("codex", "PreToolUse", json.dumps({"session_id": "s", "transcript_path": None, "tool_name":
                                                    "apply_patch", "tool_input": {"command": "*** Begin Patch\n"}}))
    assert tool_arguments(hook) == {"input": "*** Begin Patch\n"} and hook.transcript_path is None


def test_agent_names():
    assert agent_of("claude-code") == "claude_code" and agent_of("Gemini-CLI") == "gemini_cli"
    with pytest.raises(ValueError):
        agent_of("cursor")
