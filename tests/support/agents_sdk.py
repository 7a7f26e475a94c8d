"""Running real OpenAI Agents SDK agents against the replay server, with or without otel-cot."""

from __future__ import annotations

import asyncio
import copy
from typing import Any

from agents import (
    Agent,
    OpenAIChatCompletionsModel,
    OpenAIResponsesModel,
    Runner,
    RunConfig,
    set_trace_processors,
    set_tracing_disabled,
)
from openai import AsyncOpenAI

from otel_cot.instrumentation.openai import OpenAIInstrumentor
from otel_cot.instrumentation.openai_agents import OpenAIAgentsInstrumentor

from .fixtures import load

# A reasoning item (summary) + a function_call to update_plan, then the final message.
THINK_AND_CALL = "openai/responses-nostream--openai_responses_thinking_with_tool_calls--pydantic-ai-i0.json"
FINAL = "openai/responses-nostream--openai_responses_thinking_with_tool_calls--pydantic-ai-i1.json"
# Streamed: reasoning_text + a function_call to get_temperature, then reasoning + text.
STREAM_CALL = "openai-compatible/responses-stream--deepseek_responses_function_tool_stream--pydantic-ai.json"
STREAM_FINAL = "openai-compatible/responses-stream--deepseek_responses_text_stream--pydantic-ai.json"
# Chat Completions: reasoning_content + a tool call to load_capability, then reasoning + text.
CHAT_CALL = "openai-compatible/chat-nostream--deepseek_deferred_capability_with_thinking--pydantic-ai-i0.json"
CHAT_FINAL = "openai-compatible/chat-nostream--deepseek_model_thinking_part--pydantic-ai.json"


def response(name: str) -> dict[str, Any]:
    return load(name)["response"]


def function_calls(name: str) -> list[dict[str, Any]]:
    return [item for item in response(name)["body"]["output"] if item["type"] == "function_call"]


def final_text(name: str) -> str:
    (message,) = [item for item in response(name)["body"]["output"] if item["type"] == "message"]
    return message["content"][0]["text"]


def with_calls(name: str, calls: list[tuple[str, str, str]]) -> dict[str, Any]:
    """The recorded response with its function_call replaced by ``(call_id, name, arguments)`` calls.

    For shapes the recordings lack (parallel calls, a handoff); everything else stays as recorded.
    """
    out = copy.deepcopy(response(name))
    items = out["body"]["output"]
    (template,) = [item for item in items if item["type"] == "function_call"]
    items.remove(template)
    for index, (call_id, tool, arguments) in enumerate(calls):
        items.append({**template, "id": f"{template['id']}-{index}", "call_id": call_id, "name": tool,
                      "arguments": arguments})
    return out


def client(replay: Any) -> AsyncOpenAI:
    return AsyncOpenAI(base_url=replay.url + "/v1", api_key="test-key", max_retries=0)


def responses_model(replay: Any, model: str = "gpt-5") -> OpenAIResponsesModel:
    return OpenAIResponsesModel(model=model, openai_client=client(replay))


def chat_model(replay: Any, model: str = "deepseek-reasoner") -> OpenAIChatCompletionsModel:
    return OpenAIChatCompletionsModel(model=model, openai_client=client(replay))


def run(agent: Agent, prompt: str, mode: str, run_config: RunConfig | None = None) -> Any:
    """``Runner.run`` (async), ``Runner.run_sync`` or ``Runner.run_streamed``; the run's final output."""
    if mode == "sync":
        return Runner.run_sync(agent, prompt, run_config=run_config).final_output

    async def main() -> Any:
        if mode == "async":
            return (await Runner.run(agent, prompt, run_config=run_config)).final_output
        streamed = Runner.run_streamed(agent, prompt, run_config=run_config)
        async for _event in streamed.stream_events():
            pass
        return streamed.final_output

    return asyncio.run(main())


class AgentsSdk:
    """The OpenAI and Agents SDK instrumentors on the test provider, nothing exported to OpenAI."""

    def __init__(self, provider: Any, settings: Any) -> None:
        self.provider = provider
        self.settings = settings
        self.openai = OpenAIInstrumentor()
        self.agents = OpenAIAgentsInstrumentor()

    def on(self, openai: bool = True) -> None:
        self.off()
        set_tracing_disabled(False)
        if openai:
            self.openai.instrument(tracer_provider=self.provider, settings=self.settings)
        self.agents.instrument(tracer_provider=self.provider, settings=self.settings)

    def off(self) -> None:
        for instrumentor in (self.agents, self.openai):
            if instrumentor.is_instrumented_by_opentelemetry:
                instrumentor.uninstrument()
        set_trace_processors([])  # the SDK's default exporter would send the traces to OpenAI
