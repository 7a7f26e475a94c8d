"""The OpenAI Agents SDK integration: real agents run by ``Runner`` against recorded payloads.

Streams, Chat Completions models, the processor's own model-call spans when the OpenAI
instrumentor is off, concurrent tools and runs (the OTel context follows each one), handoffs,
tool errors, uninstrument, and our processor failing without the run noticing.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from agents import Agent, RunConfig, Runner, function_tool
from agents.tracing import TracingProcessor, get_trace_provider
from opentelemetry import trace

import otel_cot
from otel_cot.config import Settings
from otel_cot.instrumentation.openai_agents import models
from otel_cot.instrumentation.openai_agents import processor as processor_module
from otel_cot.instrumentation.tools import ToolCall

from .conftest import attrs
from .support import agents_sdk as sdk

TEST_TRACER = trace.get_tracer("tests")


def _named(spans, prefix):
    return sorted((s for s in spans.all() if s.name.startswith(prefix)), key=lambda s: s.start_time)


def _no_leak():
    assert not trace.get_current_span().get_span_context().is_valid, "our context leaked into the caller"


def _assert_loop(spans, agent_name, model, tool_name, call_id, source):
    all_spans = spans.all()
    assert len({s.context.trace_id for s in all_spans}) == 1
    (agent,) = _named(spans, f"invoke_agent {agent_name}")
    chats = sorted(spans.model_calls(), key=lambda s: s.start_time)
    assert [c.name for c in chats] == [f"chat {model}"] * 2
    (tool,) = _named(spans, "execute_tool")
    assert tool.name == f"execute_tool {tool_name}"
    assert attrs(tool)["gen_ai.tool.call.id"] == call_id
    for child in (*chats, tool):
        assert child.parent.span_id == agent.context.span_id
    first = [s for s in spans.reasoning() if s.parent.span_id == chats[0].context.span_id]
    assert first and all(attrs(s)["cot.reasoning.source"] == source for s in first)
    assert all(s.end_time <= tool.start_time for s in first)
    assert all(s.parent.span_id in {c.context.span_id for c in chats} for s in spans.reasoning())
    return agent, chats, tool


# --- model paths ---------------------------------------------------------------------------


@function_tool
def get_temperature(city: str) -> str:
    """The temperature in a city."""
    return f"{city}: 21C"


@pytest.mark.parametrize("openai_on", [True, False], ids=["openai-instrumentor", "processor-only"])
def test_streamed_run(openai_on, replay, agents, spans):
    agents.on(openai=openai_on)
    replay.serve(sdk.response(sdk.STREAM_CALL), sdk.response(sdk.STREAM_FINAL))
    agent = Agent(name="Weather", tools=[get_temperature], model=sdk.responses_model(replay, "deepseek-v4-flash"))
    output = sdk.run(agent, "Temperature in Tokyo?", "streamed")
    assert output == "The capital of France is Paris."
    _no_leak()
    _agent, chats, tool = _assert_loop(spans, "Weather", "deepseek-v4-flash", "get_temperature",
                                       "call_00_xjY8Z2BvSlzgEmmw0DtH0464", "openai.reasoning_text")
    assert attrs(tool)["gen_ai.tool.call.result"] == "Tokyo: 21C"
    # The SDK streams through with_streaming_response (a raw response the OpenAI instrumentor does not
    # read): the one chat span is completed from what the SDK read from the stream.
    assert attrs(chats[0])["gen_ai.response.id"] == "1235b7ba-fdc9-4a1c-bfe4-6137c207baf3"
    output = json.loads(attrs(chats[0])["gen_ai.output.messages"])
    assert [p["name"] for m in output for p in m["parts"] if p["type"] == "tool_call"] == ["get_temperature"]
    assert chats[0].end_time <= tool.start_time


@function_tool
def load_capability(id: str) -> str:  # noqa: A002 - the recorded tool's parameter name
    """Load a deferred capability."""
    return f"{id} loaded"


@pytest.mark.parametrize("openai_on", [True, False], ids=["openai-instrumentor", "processor-only"])
def test_chat_completions_model(openai_on, replay, agents, spans):
    agents.on(openai=openai_on)
    replay.serve(sdk.response(sdk.CHAT_CALL), sdk.response(sdk.CHAT_FINAL))
    agent = Agent(name="Dice", tools=[load_capability], model=sdk.chat_model(replay))
    output = sdk.run(agent, "Let's play dice.", "async")
    assert output.startswith("Crossing the street safely")
    _no_leak()
    _agent, chats, tool = _assert_loop(spans, "Dice", "deepseek-reasoner", "load_capability",
                                       "call_00_sXqYgMESDht75NCLLZtt9804", "reasoning_content")
    assert attrs(tool)["gen_ai.tool.call.result"] == "DICE_ROLL loaded"
    assert attrs(chats[0])["gen_ai.usage.reasoning.output_tokens"] == 60


def test_processor_writes_the_model_call_when_the_openai_instrumentor_is_off(replay, agents, spans):
    agents.on(openai=False)
    replay.serve(sdk.response(sdk.THINK_AND_CALL), sdk.response(sdk.FINAL))
    tools = [function_tool(lambda plan: "ok", name_override="update_plan")]
    agent = Agent(name="Planner", instructions="Plan first.", tools=tools, model=sdk.responses_model(replay))
    assert sdk.run(agent, "Compose the poem.", "sync") == sdk.final_text(sdk.FINAL)
    (call,) = sdk.function_calls(sdk.THINK_AND_CALL)
    _agent, chats, _tool = _assert_loop(spans, "Planner", "gpt-5-2025-08-07", "update_plan", call["call_id"],
                                        "openai.summary")
    first = attrs(chats[0])
    assert first["gen_ai.provider.name"] == "openai"
    assert first["gen_ai.usage.output_tokens"] == 1926
    # Instructions as the response echoes them (here: the recording's); the input as the SDK sent it.
    echoed = sdk.response(sdk.THINK_AND_CALL)["body"]["instructions"]
    assert json.loads(first["gen_ai.system_instructions"]) == [{"type": "text", "content": echoed}]
    assert json.loads(first["gen_ai.input.messages"]) == [
        {"role": "user", "parts": [{"type": "text", "content": "Compose the poem."}]}]
    output = json.loads(first["gen_ai.output.messages"])
    assert [p["id"] for m in output for p in m["parts"] if p["type"] == "tool_call"] == [call["call_id"]]
    assert chats[0].start_time < chats[0].end_time <= _tool.start_time


# --- context across concurrency -----------------------------------------------------------


def _barrier(parties: int):
    """Every tool waits here, so they are all running at once before any returns."""
    arrived, ready = [0], asyncio.Event()

    async def wait() -> None:
        arrived[0] += 1
        if arrived[0] >= parties:
            ready.set()
        await asyncio.wait_for(ready.wait(), 5)

    return wait


def test_parallel_tools_each_parent_their_own_work(replay, agents, spans):
    calls = [("call_a", "update_plan", '{"plan":"A"}'), ("call_b", "update_plan", '{"plan":"B"}')]
    replay.serve(sdk.with_calls(sdk.THINK_AND_CALL, calls), sdk.response(sdk.FINAL))
    holder = {}

    @function_tool
    async def update_plan(plan: str) -> str:
        """Record the plan."""
        with TEST_TRACER.start_as_current_span("inner", attributes={"plan": plan}):
            await holder["wait"]()
        return f"updated {plan}"

    async def main():
        holder["wait"] = _barrier(2)
        agent = Agent(name="Planner", tools=[update_plan], model=sdk.responses_model(replay))
        return (await Runner.run(agent, "Compose.")).final_output

    assert asyncio.run(main()) == sdk.final_text(sdk.FINAL)
    _no_leak()
    (agent,) = _named(spans, "invoke_agent Planner")
    tools = _named(spans, "execute_tool update_plan")
    assert sorted(attrs(t)["gen_ai.tool.call.id"] for t in tools) == ["call_a", "call_b"]
    inner = {attrs(s)["plan"]: s for s in _named(spans, "inner")}
    for tool in tools:
        assert tool.parent.span_id == agent.context.span_id
        plan = json.loads(attrs(tool)["gen_ai.tool.call.arguments"])["plan"]
        assert inner[plan].parent.span_id == tool.context.span_id
        assert attrs(tool)["gen_ai.tool.call.result"] == f"updated {plan}"
    assert max(t.start_time for t in tools) < min(t.end_time for t in tools), "the tools ran concurrently"


def test_concurrent_runs_are_separate_traces(replay, agents, spans):
    first, final = sdk.response(sdk.THINK_AND_CALL), sdk.response(sdk.FINAL)
    replay.serve(first, first, final, final)
    holder = {}

    @function_tool
    async def update_plan(plan: str) -> str:
        """Record the plan."""
        await holder["wait"]()
        return "ok"

    async def main():
        holder["wait"] = _barrier(2)
        runs = [Runner.run(Agent(name=name, tools=[update_plan], model=sdk.responses_model(replay)), "Go.")
                for name in ("Alpha", "Beta")]
        return [r.final_output for r in await asyncio.gather(*runs)]

    assert asyncio.run(main()) == [sdk.final_text(sdk.FINAL)] * 2
    _no_leak()
    by_id = {s.context.span_id: s for s in spans.all()}
    for name in ("Alpha", "Beta"):
        (agent,) = _named(spans, f"invoke_agent {name}")
        members = [s for s in spans.all() if s.context.trace_id == agent.context.trace_id]
        assert sorted(s.name for s in members if not s.name.startswith("reasoning")) == [
            "chat gpt-5", "chat gpt-5", "execute_tool update_plan", f"invoke_agent {name}",
            "invoke_workflow Agent workflow"]
        for span in members:
            if span.parent is not None:
                assert by_id[span.parent.span_id].context.trace_id == agent.context.trace_id


def test_a_run_inside_a_span_of_the_application_nests_under_it(replay, agents, spans):
    replay.serve(sdk.response(sdk.FINAL))
    with otel_cot.agent("outer"):
        sdk.run(Agent(name="Inner", model=sdk.responses_model(replay)), "Hi.", "sync")
    (outer,) = _named(spans, "invoke_agent outer")
    (workflow,) = _named(spans, "invoke_workflow")
    assert workflow.parent.span_id == outer.context.span_id
    assert len({s.context.trace_id for s in spans.all()}) == 1


# --- handoffs, errors --------------------------------------------------------------------


def test_handoff_is_an_event_on_the_agent_that_handed_off(replay, agents, spans):
    replay.serve(sdk.with_calls(sdk.THINK_AND_CALL, [("call_h", "transfer_to_planner", "{}")]),
                 sdk.response(sdk.FINAL))
    planner = Agent(name="Planner", model=sdk.responses_model(replay))
    triage = Agent(name="Triage", handoffs=[planner], model=sdk.responses_model(replay))
    assert sdk.run(triage, "Compose.", "async") == sdk.final_text(sdk.FINAL)
    _no_leak()
    (workflow,) = _named(spans, "invoke_workflow")
    (first,) = _named(spans, "invoke_agent Triage")
    (second,) = _named(spans, "invoke_agent Planner")
    assert first.parent.span_id == second.parent.span_id == workflow.context.span_id
    assert first.end_time <= second.start_time
    (event,) = [e for e in first.events if e.name == "cot.agent.handoff"]
    assert dict(event.attributes) == {"cot.handoff.from_agent": "Triage", "cot.handoff.to_agent": "Planner"}
    chats = sorted(spans.model_calls(), key=lambda s: s.start_time)
    assert [c.parent.span_id for c in chats] == [first.context.span_id, second.context.span_id]
    assert not _named(spans, "execute_tool")


def test_tool_error_marks_the_tool_span(replay, agents, spans):
    replay.serve(sdk.response(sdk.THINK_AND_CALL), sdk.response(sdk.FINAL))

    @function_tool
    def update_plan(plan: str) -> str:
        """Record the plan."""
        raise RuntimeError("plan store is read-only")

    agent = Agent(name="Planner", tools=[update_plan], model=sdk.responses_model(replay))
    assert sdk.run(agent, "Compose.", "async") == sdk.final_text(sdk.FINAL)
    (tool,) = _named(spans, "execute_tool update_plan")
    assert tool.status.status_code.name == "ERROR"
    assert tool.status.description.startswith("Error running tool")  # the SDK's error, as it recorded it
    assert attrs(tool)["error.type"] == "tool_error"
    # The result is what the model was told, as the SDK's failure handler phrased it.
    result = attrs(tool)["gen_ai.tool.call.result"]
    assert result.startswith("An error occurred while running the tool")
    assert result in attrs(sorted(spans.model_calls(), key=lambda s: s.start_time)[1])["gen_ai.input.messages"]


def test_content_capture_off(replay, agents, spans):
    agents.settings = Settings.from_env({"OTEL_COT_CAPTURE_CONTENT": "false"})
    agents.on()
    replay.serve(sdk.response(sdk.THINK_AND_CALL), sdk.response(sdk.FINAL))
    tools = [function_tool(lambda plan: "ok", name_override="update_plan")]
    sdk.run(Agent(name="Planner", tools=tools, model=sdk.responses_model(replay)), "Compose.", "async")
    (tool,) = _named(spans, "execute_tool update_plan")
    assert "gen_ai.tool.call.arguments" not in attrs(tool) and "gen_ai.tool.call.result" not in attrs(tool)
    assert attrs(tool)["gen_ai.tool.call.id"]


# --- lifecycle ----------------------------------------------------------------------------


class _UserProcessor(TracingProcessor):
    def __init__(self):
        self.spans = 0

    def on_trace_start(self, trace):
        pass

    def on_trace_end(self, trace):
        pass

    def on_span_start(self, span):
        self.spans += 1

    def on_span_end(self, span):
        pass

    def shutdown(self):
        pass

    def force_flush(self):
        pass


def test_instrument_adds_one_processor_and_uninstrument_removes_only_it(replay, agents, spans):
    def registered():
        return list(get_trace_provider()._multi_processor._processors)

    user = _UserProcessor()
    get_trace_provider().register_processor(user)
    agents.agents.instrument()  # already instrumented: no second processor
    ours = [p for p in registered() if isinstance(p, processor_module.CotTracingProcessor)]
    assert len(ours) == 1 and user in registered()

    agents.agents.uninstrument()
    assert registered() == [user]
    replay.serve(sdk.response(sdk.FINAL))
    assert sdk.run(Agent(name="Bare", model=sdk.responses_model(replay)), "Hi.", "async") == sdk.final_text(sdk.FINAL)
    assert user.spans > 0
    assert not _named(spans, "invoke_agent") and len(spans.model_calls()) == 1


# --- never break the run -------------------------------------------------------------------

SABOTAGE = [
    (processor_module.CotTracingProcessor, "_span_start"),
    (processor_module.CotTracingProcessor, "_span_end"),
    (processor_module.CotTracingProcessor, "_trace_start"),
    (processor_module.CotTracingProcessor, "_parent"),
    (processor_module.CotTracingProcessor, "_attach"),
    (processor_module.CotTracingProcessor, "_detach"),
    (processor_module.AgentRun, "__init__"),
    (ToolCall, "__init__"),
    (ToolCall, "set_arguments"),
    (models, "from_response_span"),
]


def _boom(*args, **kwargs):
    raise RuntimeError("otel-cot bug injected by the test")


@pytest.mark.expects_internal_errors
@pytest.mark.parametrize("owner,attribute", SABOTAGE, ids=[f"{o.__name__}.{a}" for o, a in SABOTAGE])
def test_run_unchanged_when_our_processor_raises(owner, attribute, replay, agents, spans, internal_errors,
                                                 monkeypatch):
    def loop(mode):
        if mode == "streamed":
            replay.serve(sdk.response(sdk.STREAM_CALL), sdk.response(sdk.STREAM_FINAL))
            tools = [get_temperature]
        else:
            replay.serve(sdk.response(sdk.THINK_AND_CALL), sdk.response(sdk.FINAL))
            tools = [function_tool(lambda plan: f"got {len(plan)}", name_override="update_plan")]
        agent = Agent(name="Planner", tools=tools, model=sdk.responses_model(replay))
        return sdk.run(agent, "Compose.", mode, RunConfig(group_id="g"))

    agents.off()
    expected = {mode: loop(mode) for mode in ("async", "streamed")}
    monkeypatch.setattr(owner, attribute, _boom)
    agents.on(openai=owner is not models)
    for mode, output in expected.items():
        assert loop(mode) == output, mode
        _no_leak()
    assert internal_errors, "the injected failure was never reached"
