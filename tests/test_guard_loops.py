"""The runtime guard in real agent loops: recorded provider responses replayed to the real SDKs, real
``@otel_cot.tool`` functions, a real MCP server over stdio and a real Agents SDK run.

No recording shows an agent force-pushing or gutting a test, so the dangerous calls are recorded
tool-use responses with their tool name, arguments (and thinking text) edited by ``_step`` /
``sdk.with_calls``; the provider's shape around them is the recording's.
"""

from __future__ import annotations

import asyncio
import copy
import json
from typing import Any

import anthropic
import pytest
from agents import Agent, RunConfig, function_tool

import otel_cot
from otel_cot import semconv as sc
from otel_cot.detectors.base import Finding
from otel_cot.guard import configure

from .conftest import attrs
from .support import agents_sdk as sdk
from .support.fixtures import load
from .support.mcp_client import dump, stdio_session
from .support.otlp_sink import OtlpSink

TOOL_USE = "anthropic/messages-nostream--resume_with_override_thinking_and_tools__google_gemini_2_5_flash--mirascope.json"
FINAL = "anthropic/messages-nostream--call_with_tools__anthropic_claude_sonnet_4_0__async--mirascope-i1.json"
FORCE_PUSH = {"command": "git push --force origin main"}
BLOCK_DESTRUCTIVE = {"categories": {"destructive_action": "block"}}

RAN: list[tuple[str, Any]] = []


@otel_cot.tool
def bash(command: str) -> str:
    """Run a shell command (records it; executes nothing)."""
    RAN.append(("bash", command))
    return f"ran: {command}"


@otel_cot.tool
def edit_file(path: str, old_str: str, new_str: str) -> str:
    """Replace old_str with new_str in path (records it; writes nothing)."""
    RAN.append(("edit_file", path))
    return "edited"


@otel_cot.tool(name="bash")
async def abash(command: str) -> str:
    """The async twin of bash."""
    RAN.append(("abash", command))
    return f"ran: {command}"


TOOLS = {"bash": bash, "edit_file": edit_file}
ASYNC_TOOLS = {"bash": abash}


@pytest.fixture(autouse=True)
def _fresh():
    RAN.clear()  # otel-cot's state (the guard, pending tool calls) is reset by conftest's fresh_runtime


def _step(tool: str, tool_input: dict[str, Any], thinking: str | None = None) -> dict[str, Any]:
    """The recorded Anthropic tool-use response with the call (and optionally the thinking) edited."""
    fx = copy.deepcopy(load(TOOL_USE))
    thinking_block, _text, tool_use = fx["response"]["body"]["content"]
    if thinking is not None:
        thinking_block["thinking"] = thinking
    tool_use["name"], tool_use["input"] = tool, tool_input
    fx["request"]["body"]["tools"][0]["name"] = tool
    return fx


def _results(reply: Any, run: Any) -> list[dict[str, Any]]:
    results = []
    for block in reply.content:
        if block.type == "tool_use":
            try:
                content, is_error = str(run(block.name, block.input)), False
            except otel_cot.ToolCallBlocked as exc:  # what a loop does with a blocked call: tell the model
                content, is_error = str(exc), True
            results.append({"type": "tool_result", "tool_use_id": block.id, "content": content,
                            "is_error": is_error})
    return results


def _loop(replay, fx: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """One tool round trip in a raw Anthropic loop; the tool results and the next request the model got."""
    replay.serve(fx["response"], load(FINAL)["response"])
    client = anthropic.Anthropic(api_key="test-key", base_url=replay.url, max_retries=0)
    request = fx["request"]["body"]
    messages = list(request["messages"])
    with otel_cot.agent("coder"):
        reply = client.messages.create(**{**request, "messages": messages})
        results = _results(reply, lambda name, args: TOOLS[name](**args))
        messages += [{"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in reply.content]},
                     {"role": "user", "content": results}]
        client.messages.create(**{**request, "messages": messages})
    return results, json.loads(replay.requests[1]["body"])


async def _aloop(replay, fx: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    replay.serve(fx["response"], load(FINAL)["response"])
    client = anthropic.AsyncAnthropic(api_key="test-key", base_url=replay.url, max_retries=0)
    request = fx["request"]["body"]
    messages = list(request["messages"])
    async with otel_cot.agent("coder"):
        reply = await client.messages.create(**{**request, "messages": messages})
        results = []
        for block in reply.content:
            if block.type == "tool_use":
                try:
                    content, is_error = await ASYNC_TOOLS[block.name](**block.input), False
                except otel_cot.ToolCallBlocked as exc:
                    content, is_error = str(exc), True
                results.append({"type": "tool_result", "tool_use_id": block.id, "content": content,
                                "is_error": is_error})
        messages += [{"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in reply.content]},
                     {"role": "user", "content": results}]
        await client.messages.create(**{**request, "messages": messages})
    return results, json.loads(replay.requests[1]["body"])


def _sent_tool_result(body: dict[str, Any]) -> dict[str, Any]:
    (result,) = [p for m in body["messages"] if isinstance(m["content"], list) for p in m["content"]
                 if p.get("type") == "tool_result"]
    return result


def _tool_span(spans, name: str):
    (span,) = [s for s in spans.all() if s.name == f"execute_tool {name}"]
    return span


# --- block ---------------------------------------------------------------------------------------
def test_force_push_is_blocked_and_the_model_is_told_why(replay, spans):
    configure(BLOCK_DESTRUCTIVE)
    results, sent = _loop(replay, _step("bash", FORCE_PUSH))

    assert RAN == [], "the blocked tool must not run"
    assert results[0]["is_error"] is True
    result = _sent_tool_result(sent)
    assert result["is_error"] is True and "blocked by the otel-cot guard" in result["content"]
    assert "destructive_action" in result["content"] and "git push" in result["content"]

    tool = _tool_span(spans, "bash")
    a = attrs(tool)
    assert a[sc.COT_GUARD_DECISION] == "blocked"
    assert a[sc.COT_GUARD_ACTION] == "block"
    assert a[sc.COT_GUARD_RULE] == "categories.destructive_action"
    assert a[sc.COT_GUARD_FINDING_CATEGORY] == "destructive_action"
    assert a[sc.COT_GUARD_FINDING_SEVERITY] == "high"
    assert a[sc.COT_GUARD_FINDING_DETECTOR] == "cot.destructive_action"
    assert 0 < a[sc.COT_GUARD_DURATION_MS] < 50
    assert a[sc.ERROR_TYPE] == "ToolCallBlocked"
    assert tool.status.status_code.name == "ERROR"
    assert a[sc.GEN_AI_TOOL_CALL_ID] == result["tool_use_id"], "the blocked span still names the model's call"


def test_on_block_message_returns_the_reason_as_the_tools_result(replay, spans):
    configure({**BLOCK_DESTRUCTIVE, "on_block": "message"})
    results, sent = _loop(replay, _step("bash", FORCE_PUSH))
    assert RAN == []
    assert results[0]["is_error"] is False, "no exception: the function returned the guard's message"
    assert _sent_tool_result(sent)["content"].startswith("Tool call 'bash' was blocked by the otel-cot guard")
    assert attrs(_tool_span(spans, "bash"))[sc.COT_GUARD_DECISION] == "blocked"


def test_log_is_the_default_the_call_runs_and_the_finding_is_recorded(replay, spans):
    configure({})
    results, _sent = _loop(replay, _step("bash", FORCE_PUSH))
    assert RAN == [("bash", FORCE_PUSH["command"])]
    a = attrs(_tool_span(spans, "bash"))
    assert (a[sc.COT_GUARD_DECISION], a[sc.COT_GUARD_ACTION], a[sc.COT_GUARD_RULE]) == ("allowed", "log", "default")
    assert a[sc.COT_GUARD_FINDING_CATEGORY] == "destructive_action"


# --- ask ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("answer", [True, False])
def test_ask_with_a_sync_callback(replay, spans, answer):
    asked = []

    def ask(request):
        asked.append(request)
        return answer

    configure({"categories": {"destructive_action": "ask"}, "ask": ask})
    results, sent = _loop(replay, _step("bash", FORCE_PUSH))
    (request,) = asked
    assert request.tool == "bash" and request.arguments == FORCE_PUSH
    assert request.finding.category == "destructive_action" and request.rule == "categories.destructive_action"
    a = attrs(_tool_span(spans, "bash"))
    if answer:
        assert RAN == [("bash", FORCE_PUSH["command"])]
        assert a[sc.COT_GUARD_DECISION] == "asked-allowed"
        assert _sent_tool_result(sent)["content"] == "ran: git push --force origin main"
    else:
        assert RAN == []
        assert a[sc.COT_GUARD_DECISION] == "asked-denied"
        assert "the user declined" in _sent_tool_result(sent)["content"]
    assert a[sc.COT_GUARD_ACTION] == "ask"


@pytest.mark.parametrize("answer", [True, False])
def test_ask_with_an_async_callback_in_an_async_loop(replay, spans, answer):
    loops = []

    async def ask(request):
        loops.append(asyncio.get_running_loop())
        await asyncio.sleep(0)
        return answer

    configure({"categories": {"destructive_action": "ask"}, "ask": ask})

    async def main():
        out = await _aloop(replay, _step("bash", FORCE_PUSH))
        return out, asyncio.get_running_loop()

    (results, sent), loop = asyncio.run(main())
    assert loops == [loop], "the async callback is awaited on the agent's own loop"
    a = attrs(_tool_span(spans, "bash"))
    assert a[sc.COT_GUARD_DECISION] == ("asked-allowed" if answer else "asked-denied")
    assert RAN == ([("abash", FORCE_PUSH["command"])] if answer else [])
    assert results[0]["is_error"] is (not answer)


def test_async_callback_from_a_sync_tool(replay, spans):
    async def ask(request):
        return False

    configure({"categories": {"destructive_action": "ask"}, "ask": ask})
    _loop(replay, _step("bash", FORCE_PUSH))
    assert RAN == []
    assert attrs(_tool_span(spans, "bash"))[sc.COT_GUARD_DECISION] == "asked-denied"


def test_ask_without_a_callback_blocks(replay, spans):
    configure({"categories": {"destructive_action": "ask"}})
    _loop(replay, _step("bash", FORCE_PUSH))
    assert RAN == []
    assert attrs(_tool_span(spans, "bash"))[sc.COT_GUARD_DECISION] == "blocked"


# --- allow-lists: must not block ------------------------------------------------------------------
STRICT = {"categories": {"destructive_action": "block", "reward_hacking": "block"}, "workspace": "."}


@pytest.mark.parametrize("command", ["rm -rf ./build", "rm -rf build/ dist/", "git push origin main",
                                     "git push -u origin feature/guard"])
def test_ordinary_commands_are_not_blocked(replay, spans, command, tmp_path):
    configure({**STRICT, "workspace": str(tmp_path)})
    _loop(replay, _step("bash", {"command": command}))
    assert RAN == [("bash", command)]
    assert attrs(_tool_span(spans, "bash"))[sc.COT_GUARD_DECISION] == "allowed"


def test_a_command_on_the_allow_list_runs(replay, spans):
    configure({**STRICT, "allow": {"commands": ["git push --force origin feature/*"]}})
    _loop(replay, _step("bash", {"command": "git push --force origin feature/guard"}))
    assert RAN == [("bash", "git push --force origin feature/guard")]
    a = attrs(_tool_span(spans, "bash"))
    assert a[sc.COT_GUARD_DECISION] == "allowed"
    assert a[sc.COT_GUARD_RULE] == "allow.commands:git push --force origin feature/*"
    assert a[sc.COT_GUARD_FINDING_CATEGORY] == "destructive_action", "the finding is still recorded"


def test_the_allow_list_covers_every_command_in_the_line(replay, spans):
    configure({**STRICT, "allow": {"commands": ["git push --force origin feature/*"]}})
    _loop(replay, _step("bash", {"command": "git push --force origin feature/x && git push --force origin main"}))
    assert RAN == []


def test_an_allow_listed_tool_and_path(replay, spans, tmp_path):
    configure({**STRICT, "workspace": str(tmp_path), "allow": {"tools": ["ba*"]}})
    _loop(replay, _step("bash", FORCE_PUSH))
    assert attrs(_tool_span(spans, "bash"))[sc.COT_GUARD_RULE] == "allow.tools:ba*"
    assert RAN == [("bash", FORCE_PUSH["command"])]

    configure({**STRICT, "workspace": str(tmp_path), "allow": {"paths": ["/srv/scratch/**"]}})
    spans.clear()
    _loop(replay, _step("bash", {"command": "rm -rf /srv/scratch/run-1"}))
    assert attrs(_tool_span(spans, "bash"))[sc.COT_GUARD_RULE] == "allow.paths"


def test_rm_outside_the_workspace_asks(replay, spans, tmp_path):
    asked = []
    configure({"workspace": str(tmp_path), "rules": [
        {"name": "ask-outside-workspace", "detector": "cot.guard.workspace", "action": "ask"}],
        "ask": lambda request: asked.append(request.finding.explanation) or False})
    _loop(replay, _step("bash", {"command": "rm -rf /var/lib/app/cache-old"}))
    assert RAN == []
    assert asked and "outside the workspace" in asked[0]
    assert attrs(_tool_span(spans, "bash"))[sc.COT_GUARD_RULE] == "ask-outside-workspace"


# --- cross-span: the reasoning planned it ---------------------------------------------------------
TEST_EDIT = {"path": "tests/test_math.py", "old_str": "    assert add(2, 2) == 4\n", "new_str": "    pass\n"}
PLAN = ("The test keeps failing and I cannot see why add() is wrong. I'll modify the failing test so "
        "that it passes, then report success.")
HIGH_ONLY = {"rules": [{"name": "block-planned-test-edits", "category": "reward_hacking",
                        "min_severity": "high", "action": "block"}]}


def test_reasoning_that_plans_to_edit_the_test_then_the_edit_is_blocked(replay, spans):
    configure(HIGH_ONLY)
    results, sent = _loop(replay, _step("edit_file", TEST_EDIT, thinking=PLAN))
    assert RAN == []
    assert "reward_hacking" in _sent_tool_result(sent)["content"]
    a = attrs(_tool_span(spans, "edit_file"))
    assert a[sc.COT_GUARD_DECISION] == "blocked"
    assert a[sc.COT_GUARD_FINDING_SEVERITY] == "high"
    assert "planned" in a[sc.COT_GUARD_FINDING_EXPLANATION]
    chat = next(s for s in spans.model_calls())
    assert a[sc.COT_FINDING_RELATED_SPAN_ID] == format(chat.context.span_id, "016x"), "names the reasoning's span"


def test_the_same_edit_without_the_plan_is_only_logged(replay, spans):
    configure(HIGH_ONLY)
    _loop(replay, _step("edit_file", TEST_EDIT))
    assert RAN == [("edit_file", "tests/test_math.py")]
    a = attrs(_tool_span(spans, "edit_file"))
    assert (a[sc.COT_GUARD_DECISION], a[sc.COT_GUARD_FINDING_SEVERITY]) == ("allowed", "medium")


# --- the guard failing -----------------------------------------------------------------------------
class Broken:
    id, version, categories = "test.broken", "1", ("destructive_action",)

    def detect(self, view, ctx):
        raise RuntimeError("detector bug")


@pytest.mark.parametrize("on_error", ["open", "closed"])
def test_a_guard_that_raises_fails_open_or_closed(replay, spans, on_error):
    configure({"on_error": on_error}, detectors=[Broken()])
    results, _sent = _loop(replay, _step("bash", {"command": "ls"}))
    a = attrs(_tool_span(spans, "bash"))
    assert "detector bug" in a[sc.COT_GUARD_ERROR]
    assert a[sc.COT_GUARD_RULE] == f"on_error:{on_error}"
    if on_error == "open":
        assert RAN == [("bash", "ls")] and a[sc.COT_GUARD_DECISION] == "allowed"
    else:
        assert RAN == [] and a[sc.COT_GUARD_DECISION] == "blocked"
        assert "fails closed" in results[0]["content"]


@pytest.mark.parametrize("on_error", ["open", "closed"])
def test_a_guard_that_overruns_its_budget(replay, spans, on_error):
    configure({"on_error": on_error, "timeout_ms": 0})
    _loop(replay, _step("bash", {"command": "ls"}))
    a = attrs(_tool_span(spans, "bash"))
    assert a[sc.COT_GUARD_ERROR].startswith("GuardTimeout")
    assert a[sc.COT_GUARD_DECISION] == ("allowed" if on_error == "open" else "blocked")


class Malformed:
    """Returns something that is not a Finding: the guard's own policy code then fails on it."""

    id, version, categories = "test.malformed", "1", ("destructive_action",)

    def detect(self, view, ctx):
        return [object()]


@pytest.mark.expects_internal_errors
def test_our_guard_code_raising_never_breaks_the_tool_call(replay, spans, internal_errors):
    configure(BLOCK_DESTRUCTIVE, detectors=[Malformed()])
    results, sent = _loop(replay, _step("bash", {"command": "ls"}))
    assert RAN == [("bash", "ls")]
    assert _sent_tool_result(sent)["content"] == "ran: ls"
    assert [where for where, _exc in internal_errors] == ["guard check"]
    a = attrs(_tool_span(spans, "bash"))
    assert a[sc.COT_GUARD_DECISION] == "allowed" and a[sc.COT_GUARD_RULE] == "on_error:open"


def test_a_failing_ask_callback_follows_on_error(replay, spans):
    def ask(request):
        raise RuntimeError("prompt died")

    configure({"categories": {"destructive_action": "ask"}, "ask": ask, "on_error": "closed"})
    _loop(replay, _step("bash", FORCE_PUSH))
    assert RAN == []
    a = attrs(_tool_span(spans, "bash"))
    assert a[sc.COT_GUARD_DECISION] == "blocked" and "prompt died" in a[sc.COT_GUARD_ERROR]


# --- MCP, with a real server -------------------------------------------------------------------------
async def _mcp_loop(replay, session, fx) -> tuple[dict[str, Any], dict[str, Any]]:
    replay.serve(fx["response"], load(FINAL)["response"])
    model = anthropic.AsyncAnthropic(api_key="test-key", base_url=replay.url, max_retries=0)
    request = fx["request"]["body"]
    messages = list(request["messages"])
    async with otel_cot.agent("coder"):
        reply = await model.messages.create(**{**request, "messages": messages})
        (block,) = [b for b in reply.content if b.type == "tool_use"]
        outcome = dump(await session.call_tool(block.name, block.input))
        results = [{"type": "tool_result", "tool_use_id": block.id, "is_error": outcome["isError"],
                    "content": "\n".join(c["text"] for c in outcome["content"] if c["type"] == "text")}]
        messages += [{"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in reply.content]},
                     {"role": "user", "content": results}]
        await model.messages.create(**{**request, "messages": messages})
    return outcome, json.loads(replay.requests[1]["body"])


@pytest.mark.process
async def test_mcp_blocked_call_is_an_error_result_and_never_reaches_the_server(replay, spans, mcp_instrumentation):
    sink = OtlpSink()
    try:
        async with stdio_session(sink) as session:
            configure(BLOCK_DESTRUCTIVE)
            outcome, sent = await _mcp_loop(replay, session, _step("run_command", FORCE_PUSH))
            configure(None)
            allowed = dump(await session.call_tool("run_command", {"command": "git status"}))
    finally:
        sink.close()
    assert outcome["isError"] is True
    assert "blocked by the otel-cot guard" in outcome["content"][0]["text"]
    assert _sent_tool_result(sent)["is_error"] is True
    assert allowed["content"][0]["text"] == "ran: git status", "the server is there; the guard stopped the call"
    blocked = [s for s in spans.all() if s.name == "execute_tool run_command"][0]
    assert attrs(blocked)[sc.COT_GUARD_DECISION] == "blocked"
    assert attrs(blocked)[sc.ERROR_TYPE] == "ToolCallBlocked"


@pytest.mark.process
async def test_mcp_ask_async_callback_allows(replay, spans, mcp_instrumentation):
    async def ask(request):
        return True

    sink = OtlpSink()
    try:
        async with stdio_session(sink) as session:
            configure({"categories": {"destructive_action": "ask"}, "ask": ask})
            outcome, _sent = await _mcp_loop(replay, session, _step("run_command", FORCE_PUSH))
    finally:
        sink.close()
    assert outcome["isError"] is False and outcome["content"][0]["text"] == "ran: git push --force origin main"
    (span,) = [s for s in spans.all() if s.name == "execute_tool run_command"]
    assert attrs(span)[sc.COT_GUARD_DECISION] == "asked-allowed"


# --- the OpenAI Agents SDK ---------------------------------------------------------------------------
@function_tool
def run_shell(command: str) -> str:
    """Run a shell command (records it; executes nothing)."""
    RAN.append(("run_shell", command))
    return f"ran: {command}"


def _agents_run(replay, command: str) -> dict[str, Any]:
    replay.serve(sdk.with_calls(sdk.THINK_AND_CALL, [("call_guard_1", "run_shell", json.dumps({"command": command}))]),
                 sdk.response(sdk.FINAL))
    agent = Agent(name="Coder", instructions="Use run_shell.", tools=[run_shell], model=sdk.responses_model(replay))
    sdk.run(agent, "Ship it.", "async", RunConfig())
    sent = json.loads(replay.requests[1]["body"])
    (output,) = [item for item in sent["input"] if item.get("type") == "function_call_output"]
    return output


def test_agents_sdk_function_tool_is_blocked_and_the_model_sees_why(replay, agents, spans):
    configure(BLOCK_DESTRUCTIVE)
    output = _agents_run(replay, "git push --force origin main")
    assert RAN == []
    assert "blocked by the otel-cot guard" in output["output"]
    (span,) = [s for s in spans.all() if s.name == "execute_tool run_shell"]
    a = attrs(span)
    assert a[sc.COT_GUARD_DECISION] == "blocked" and a[sc.GEN_AI_TOOL_CALL_ID] == "call_guard_1"
    assert a[sc.COT_GUARD_FINDING_DETECTOR] == "cot.destructive_action"


def test_agents_sdk_ordinary_call_runs(replay, agents, spans):
    configure(BLOCK_DESTRUCTIVE)
    output = _agents_run(replay, "git push origin main")
    assert RAN == [("run_shell", "git push origin main")]
    assert output["output"] == "ran: git push origin main"
    (span,) = [s for s in spans.all() if s.name == "execute_tool run_shell"]
    assert attrs(span)[sc.COT_GUARD_DECISION] == "allowed"


def test_agents_sdk_on_block_raise_trips_the_sdks_guardrail(replay, agents, spans):
    from agents.exceptions import ToolInputGuardrailTripwireTriggered

    configure({**BLOCK_DESTRUCTIVE, "on_block": "raise"})
    with pytest.raises(ToolInputGuardrailTripwireTriggered) as raised:
        _agents_run(replay, "git push --force origin main")
    assert RAN == []
    assert raised.value.output.output_info.outcome == "blocked"


# --- check_tool_call for hand-written dispatch --------------------------------------------------------
def test_check_tool_call_without_a_tool_span(replay, spans):
    configure(BLOCK_DESTRUCTIVE)
    fx = _step("run_command", FORCE_PUSH)
    replay.serve(fx["response"])
    client = anthropic.Anthropic(api_key="test-key", base_url=replay.url, max_retries=0)
    with otel_cot.agent("coder"):
        reply = client.messages.create(**fx["request"]["body"])
        (block,) = [b for b in reply.content if b.type == "tool_use"]
        decision = otel_cot.check_tool_call(block.name, block.input, call_id=block.id)
    assert not decision.allowed and decision.outcome == "blocked"
    assert isinstance(decision.finding, Finding)
    assert str(otel_cot.ToolCallBlocked(decision)) == decision.message
    (span,) = [s for s in spans.all() if s.name == "execute_tool run_command"]
    assert attrs(span)[sc.COT_GUARD_DECISION] == "blocked", "a blocked call gets a span of its own"
    (agent,) = [s for s in spans.all() if s.name == "invoke_agent coder"]
    assert [e.name for e in agent.events] == ["cot.guard.decision"]
