"""A complete agent loop through the OpenAI Agents SDK: model call with reasoning → tool call → tool result →
next model call, a real ``agents.Agent`` and ``@function_tool`` run by ``Runner`` against recorded Responses
API payloads, and the span tree otel-cot makes of it with nothing but the instrumentors switched on."""

from __future__ import annotations

import json

import pytest
from agents import Agent, RunConfig, function_tool
from opentelemetry import trace


from .conftest import attrs
from .support import agents_sdk as sdk


@function_tool
def update_plan(plan: str) -> str:
    """Record the current plan."""
    return f"plan updated ({len(plan.splitlines())} steps)"


def _planner(replay) -> Agent:
    return Agent(name="Planner", instructions="Use the update_plan tool.", tools=[update_plan],
                 model=sdk.responses_model(replay))


def _loop(replay, mode: str):
    replay.serve(sdk.response(sdk.THINK_AND_CALL), sdk.response(sdk.FINAL))
    output = sdk.run(_planner(replay), "Compose the poem.", mode, RunConfig(group_id="session-7"))
    assert len(replay.requests) == 2, "two model calls"
    return output


@pytest.mark.parametrize("mode", ["async", "sync"])
def test_agents_sdk_loop_span_tree(mode, replay, agents, spans):
    agents.off()
    bare = _loop(replay, mode)
    agents.on()
    spans.clear()

    output = _loop(replay, mode)

    assert output == bare == sdk.final_text(sdk.FINAL), "instrumentation changed the run's result"
    assert not trace.get_current_span().get_span_context().is_valid, "our context leaked into the caller"
    all_spans = spans.all()
    assert len({s.context.trace_id for s in all_spans}) == 1, "one trace"

    (workflow,) = [s for s in all_spans if s.name == "invoke_workflow Agent workflow"]
    (agent,) = [s for s in all_spans if s.name == "invoke_agent Planner"]
    assert workflow.parent is None
    assert agent.parent.span_id == workflow.context.span_id
    assert attrs(agent)["gen_ai.agent.name"] == "Planner"
    assert attrs(agent)["gen_ai.conversation.id"] == attrs(workflow)["gen_ai.conversation.id"] == "session-7"

    chats = sorted(spans.model_calls(), key=lambda s: s.start_time)
    assert [c.name for c in chats] == ["chat gpt-5", "chat gpt-5"], "exactly one model-call span per model call"
    (tool,) = [s for s in all_spans if s.name.startswith("execute_tool")]
    assert tool.name == "execute_tool update_plan"
    for child in (*chats, tool):
        assert child.parent.span_id == agent.context.span_id

    reasoning = spans.reasoning()
    assert reasoning, "the model's reasoning summary is its own span"
    for span in reasoning:
        assert span.parent.span_id == chats[0].context.span_id
        assert attrs(span)["cot.reasoning.source"] == "openai.summary"
        assert span.end_time <= tool.start_time, "the reasoning came before the action it led to"
    assert "SAMIRA" in " ".join(attrs(s)["cot.reasoning.content"] for s in reasoning)
    assert chats[0].end_time <= tool.start_time <= tool.end_time <= chats[1].start_time

    (call,) = sdk.function_calls(sdk.THINK_AND_CALL)
    a = attrs(tool)
    assert a["gen_ai.tool.call.id"] == call["call_id"]
    assert [link.context.span_id for link in tool.links] == [chats[0].context.span_id]
    assert json.loads(a["gen_ai.tool.call.arguments"]) == json.loads(call["arguments"])
    assert a["gen_ai.tool.call.result"].startswith("plan updated (")
    sent = json.loads(attrs(chats[1])["gen_ai.input.messages"])
    answers = [p for m in sent for p in m["parts"] if p["type"] == "tool_call_response"]
    assert [p["id"] for p in answers] == [call["call_id"]]
    assert workflow.start_time <= agent.start_time and agent.end_time <= workflow.end_time
