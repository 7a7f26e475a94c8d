"""The coding-agent loop of test_agent_loop_sdk.py with its tool behind MCP: a model call with reasoning
(replayed Anthropic responses) → the tool it asked for, called on an MCP server over stdio → the tool
result → the next model call, inside ``otel_cot.agent("coder")``; and the span tree that makes, across
both processes."""

from __future__ import annotations

import json

import anthropic
import pytest

import otel_cot
from otel_cot import semconv as sc

from .conftest import attrs
from .support import mcp_server
from .support.fixtures import load
from .support.mcp_client import dump, server_spans, stdio_session

pytestmark = pytest.mark.process

TOOL_USE = "anthropic/messages-nostream--resume_with_override_thinking_and_tools__google_gemini_2_5_flash--mirascope.json"
FINAL = "anthropic/messages-nostream--call_with_tools__anthropic_claude_sonnet_4_0__async--mirascope-i1.json"


async def _loop(replay, session) -> tuple[str, str]:
    first, final = load(TOOL_USE), load(FINAL)
    replay.serve(first["response"], final["response"])
    model = anthropic.AsyncAnthropic(api_key="test-key", base_url=replay.url, max_retries=0)
    listed = [tool.model_dump(by_alias=True) for tool in (await session.list_tools()).tools]
    tools = [{"name": t["name"], "description": t["description"], "input_schema": t["inputSchema"]} for t in listed]
    request = {**first["request"]["body"], "tools": tools}
    messages = list(request["messages"])
    reply = await model.messages.create(**{**request, "messages": messages})
    results = []
    for block in reply.content:
        if block.type == "tool_use":
            outcome = dump(await session.call_tool(block.name, block.input))
            results.append({"type": "tool_result", "tool_use_id": block.id, "is_error": outcome["isError"],
                            "content": "\n".join(c["text"] for c in outcome["content"] if c["type"] == "text")})
    messages += [{"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in reply.content]},
                 {"role": "user", "content": results}]
    answer = await model.messages.create(**{**request, "messages": messages})
    return results[0]["tool_use_id"], answer.content[0].text


async def test_mcp_loop_inside_an_agent_span(replay, spans, mcp_instrumentation, sink):
    async with stdio_session(sink) as session:
        spans.clear()  # connecting (initialize) happens before the agent runs
        with otel_cot.agent("coder", conversation_id="session-1"):
            tool_use_id, answer = await _loop(replay, session)
    assert answer

    all_spans = spans.all()
    assert len({s.context.trace_id for s in all_spans}) == 1, "one trace"
    (agent,) = [s for s in all_spans if s.name == "invoke_agent coder"]
    chats = sorted(spans.model_calls(), key=lambda s: s.start_time)
    (reasoning,) = spans.reasoning()
    (tool,) = [s for s in all_spans if s.name.startswith("execute_tool")]
    assert tool.name == "execute_tool compute_fib"

    assert agent.parent is None
    assert len(chats) == 2
    for child in (*chats, tool):
        assert child.parent.span_id == agent.context.span_id
    assert reasoning.parent.span_id == chats[0].context.span_id
    assert reasoning.end_time <= tool.start_time, "the reasoning came before the action it led to"
    assert chats[0].end_time <= tool.start_time <= tool.end_time <= chats[1].start_time

    # The model's tool_use id is on the MCP tool span, which links back to the model call that asked.
    assert attrs(tool)[sc.GEN_AI_TOOL_CALL_ID] == tool_use_id
    assert [link.context.span_id for link in tool.links] == [chats[0].context.span_id]
    assert attrs(tool)[sc.GEN_AI_TOOL_TYPE] == "mcp"
    assert attrs(tool)[sc.COT_MCP_SERVER_NAME] == mcp_server.NAME
    assert json.loads(attrs(tool)[sc.GEN_AI_TOOL_CALL_ARGUMENTS]) == {"n": 100}
    fib = mcp_server.fib(100)
    assert json.loads(attrs(tool)[sc.GEN_AI_TOOL_CALL_RESULT]) == {"content": str(fib),
                                                                  "structuredContent": {"result": fib}}
    sent = json.loads(attrs(chats[1])[sc.GEN_AI_INPUT_MESSAGES])
    responses = [p for m in sent for p in m["parts"] if p["type"] == "tool_call_response"]
    assert [p["id"] for p in responses] == [tool_use_id]

    # The server, in its own process, ran the tool in the same trace, as the child of the client's span.
    trace_id = format(agent.context.trace_id, "032x")
    executed = [s for s in server_spans(sink, {trace_id}, 2) if s["name"].startswith("execute_tool")]
    assert [(s["name"], s["parent"]) for s in executed] == [(tool.name, format(tool.context.span_id, "016x"))]
    assert executed[0]["attributes"][sc.GEN_AI_TOOL_CALL_RESULT] == attrs(tool)[sc.GEN_AI_TOOL_CALL_RESULT]
