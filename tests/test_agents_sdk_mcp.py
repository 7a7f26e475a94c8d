"""The OpenAI Agents SDK running a tool from a real MCP server (stdio subprocess): the Agents SDK's tool span
is the one ``execute_tool`` span of the call, our MCP client span is ``tools/call {tool}`` under it, and the
server's span continues that trace."""

from __future__ import annotations

import asyncio
import sys

import pytest
from agents import Agent, Runner
from agents.mcp import MCPServerStdio
from opentelemetry.trace import SpanKind

from otel_cot import semconv as sc

from .conftest import attrs
from .support import agents_sdk as sdk
from .support.mcp_client import SERVER_SCRIPT, server_env, server_spans

pytestmark = pytest.mark.process


def test_mcp_tool_under_the_agents_sdk_is_one_execute_tool_span(replay, agents, mcp_instrumentation, spans, sink):
    env = server_env(sink)
    replay.serve(sdk.response(sdk.THINK_AND_CALL), sdk.response(sdk.FINAL))

    async def main() -> str:
        async with MCPServerStdio(params={"command": sys.executable, "args": [str(SERVER_SCRIPT)], "env": env},
                                  name="fib-server") as server:
            agent = Agent(name="Planner", instructions="Use the update_plan tool.", mcp_servers=[server],
                          model=sdk.responses_model(replay))
            return (await Runner.run(agent, "Compose the poem.")).final_output

    assert asyncio.run(main()) == sdk.final_text(sdk.FINAL)
    all_spans = spans.all()
    (tool,) = [s for s in all_spans if s.name.startswith("execute_tool")]
    assert tool.name == "execute_tool update_plan" and attrs(tool)[sc.GEN_AI_TOOL_TYPE] == "mcp"
    (rpc,) = [s for s in all_spans if s.name == "tools/call update_plan"]
    assert rpc.kind == SpanKind.CLIENT and rpc.parent.span_id == tool.context.span_id
    assert attrs(rpc).get(sc.GEN_AI_TOOL_CALL_ID) == attrs(tool).get(sc.GEN_AI_TOOL_CALL_ID)
    trace_hex = format(rpc.context.trace_id, "032x")
    found = [s for s in server_spans(sink, {trace_hex}, 1) if s["name"] == "execute_tool update_plan"]
    assert len(found) == 1 and found[0]["parent"] == format(rpc.context.span_id, "016x")
