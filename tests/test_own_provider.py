"""``otel_cot.init(tracer_provider=tp)`` with a provider that is not the global one: every span otel-cot writes goes
to ``tp``, not only the model-call spans (tool and agent spans, the guard's decisions and blocked calls, MCP's)."""

from __future__ import annotations

from typing import Iterator

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import otel_cot

from .conftest import _EXPORTER as GLOBAL_EXPORTER
from .conftest import attrs
from .support import mcp_server
from .support.mcp_client import in_process

FORCE_PUSH = "git push --force origin main"


@pytest.fixture
def own() -> Iterator[InMemorySpanExporter]:
    """init() with a private provider (the global one is the test suite's); yields the private provider's spans."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    GLOBAL_EXPORTER.clear()
    assert otel_cot.init(tracer_provider=provider, instrument=["mcp"],
                         # (a budget no loaded CI machine overruns: what is tested is where the spans go)
                         guard={"categories": {"destructive_action": "block"}, "timeout_ms": 10_000}) is provider
    yield exporter
    otel_cot.shutdown()
    GLOBAL_EXPORTER.clear()


def _ours(exporter: InMemorySpanExporter) -> list:
    return [s for s in exporter.get_finished_spans() if s.instrumentation_scope.name == "otel_cot"]


def test_tool_agent_and_guard_spans_go_to_the_given_provider(own):
    @otel_cot.tool
    def bash(command: str) -> str:
        return "ran"

    with otel_cot.agent("fixer"):
        assert bash("ls") == "ran"
        with pytest.raises(otel_cot.ToolCallBlocked):
            bash(FORCE_PUSH)
        assert not otel_cot.check_tool_call("bash", {"command": FORCE_PUSH}).allowed  # no tool span: one of its own

    spans = _ours(own)
    assert sorted(s.name for s in spans) == ["execute_tool bash"] * 3 + ["invoke_agent fixer"]
    decisions = sorted(str(attrs(s).get("cot.guard.decision")) for s in spans if s.name == "execute_tool bash")
    assert decisions == ["allowed", "blocked", "blocked"]
    agent = next(s for s in spans if s.name == "invoke_agent fixer")
    assert all(s.parent is not None and s.parent.span_id == agent.context.span_id for s in spans if s is not agent)
    assert _ours(GLOBAL_EXPORTER) == []


async def test_mcp_client_and_server_spans_go_to_the_given_provider(own):
    async with in_process(mcp_server.build()) as session:
        await session.call_tool("compute_fib", {"n": 6})
    names = sorted(s.name for s in _ours(own))
    assert names == ["execute_tool compute_fib", "execute_tool compute_fib"]  # the client's and the server's
    assert _ours(GLOBAL_EXPORTER) == []
