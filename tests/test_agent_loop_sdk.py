"""A complete coding-agent loop on the raw SDK plus @otel_cot.tool: model call with reasoning → tool call →
tool result → next model call, replayed from recorded Anthropic responses, and the span tree it makes."""

from __future__ import annotations

import json

import anthropic
import pytest

import otel_cot

from .conftest import attrs
from .support.fixtures import load

TOOL_USE = "anthropic/messages-nostream--resume_with_override_thinking_and_tools__google_gemini_2_5_flash--mirascope.json"
FINAL = "anthropic/messages-nostream--call_with_tools__anthropic_claude_sonnet_4_0__async--mirascope-i1.json"


@otel_cot.tool
def compute_fib(n: int) -> int:
    """Compute the nth Fibonacci number (1-indexed)."""
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a


def _loop(replay) -> tuple[str, str]:
    first, final = load(TOOL_USE), load(FINAL)
    replay.serve(first["response"], final["response"])
    client = anthropic.Anthropic(api_key="test-key", base_url=replay.url, max_retries=0)
    request = first["request"]["body"]
    messages = list(request["messages"])
    reply = client.messages.create(**{**request, "messages": messages})
    results = []
    for block in reply.content:
        if block.type == "tool_use":
            results.append({"type": "tool_result", "tool_use_id": block.id,
                            "content": str(compute_fib(**block.input))})
    tool_use_id = results[0]["tool_use_id"]
    messages += [{"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in reply.content]},
                 {"role": "user", "content": results}]
    answer = client.messages.create(**{**request, "messages": messages})
    return tool_use_id, answer.content[0].text


def _tree(spans):
    all_spans = spans.all()
    assert len({s.context.trace_id for s in all_spans}) == 1, "one trace"
    chats = sorted(spans.model_calls(), key=lambda s: s.start_time)
    (tool,) = [s for s in all_spans if s.name.startswith("execute_tool")]
    (reasoning,) = spans.reasoning()
    return chats, tool, reasoning


def _common(chats, tool, reasoning, tool_use_id):
    assert len(chats) == 2
    assert reasoning.parent.span_id == chats[0].context.span_id
    assert reasoning.end_time <= tool.start_time, "the reasoning came before the action it led to"
    assert chats[0].end_time <= tool.start_time <= tool.end_time <= chats[1].start_time
    assert attrs(tool)["gen_ai.tool.call.id"] == tool_use_id
    assert [link.context.span_id for link in tool.links] == [chats[0].context.span_id]
    assert attrs(tool)["gen_ai.tool.call.result"] == str(compute_fib(100))
    sent = json.loads(attrs(chats[1])["gen_ai.input.messages"])
    responses = [p for m in sent for p in m["parts"] if p["type"] == "tool_call_response"]
    assert [p["id"] for p in responses] == [tool_use_id]


def test_loop_inside_an_agent_span(replay, spans):
    with otel_cot.agent("coder", conversation_id="session-1"):
        tool_use_id, answer = _loop(replay)
    assert answer
    chats, tool, reasoning = _tree(spans)
    (agent,) = [s for s in spans.all() if s.name == "invoke_agent coder"]
    assert agent.parent is None
    for child in (*chats, tool):
        assert child.parent.span_id == agent.context.span_id
    _common(chats, tool, reasoning, tool_use_id)


def test_loop_without_an_agent_span_keeps_the_tool_in_the_model_calls_trace(replay, spans):
    tool_use_id, _answer = _loop(replay)
    all_spans = spans.all()
    chats = sorted(spans.model_calls(), key=lambda s: s.start_time)
    (tool,) = [s for s in all_spans if s.name.startswith("execute_tool")]
    assert tool.parent.span_id == chats[0].context.span_id
    assert tool.context.trace_id == chats[0].context.trace_id
    assert attrs(tool)["gen_ai.tool.call.id"] == tool_use_id
