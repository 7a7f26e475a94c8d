"""@otel_cot.tool and otel_cot.agent(): spans for user code, linked to the model's tool calls."""

from __future__ import annotations

import asyncio
import json

import pytest

import otel_cot

from .conftest import attrs

FAKE_TOKEN = "ghp_" + "x1Y2z3A4b5C6d7E8f9G0h1I2j3K4l5M6n7O8"


def _tools(spans):
    return [s for s in spans.all() if s.name.startswith("execute_tool")]


def test_sync_tool(spans):
    @otel_cot.tool
    def read_file(path: str, limit: int = 10) -> str:
        """Read a file from the workspace.

        More detail that is not the description."""
        return f"contents of {path}"

    assert read_file("src/app.py") == "contents of src/app.py"
    assert read_file.__name__ == "read_file"
    (span,) = _tools(spans)
    a = attrs(span)
    assert span.name == "execute_tool read_file"
    assert a["gen_ai.operation.name"] == "execute_tool"
    assert a["gen_ai.tool.name"] == "read_file" and a["gen_ai.tool.type"] == "function"
    assert a["gen_ai.tool.description"] == "Read a file from the workspace."
    assert json.loads(a["gen_ai.tool.call.arguments"]) == {"path": "src/app.py", "limit": 10}
    assert a["gen_ai.tool.call.result"] == "contents of src/app.py"


def test_tool_exception_is_recorded_and_reraised(spans):
    class ToolFailed(Exception):
        pass

    @otel_cot.tool(name="run_tests")
    def run(path):
        raise ToolFailed("2 failed")

    with pytest.raises(ToolFailed, match="2 failed"):
        run("tests/")
    (span,) = _tools(spans)
    assert span.name == "execute_tool run_tests"
    assert span.status.status_code.name == "ERROR"
    assert attrs(span)["error.type"] == "test_tool_exception_is_recorded_and_reraised.<locals>.ToolFailed"


def test_async_tool_and_async_generator_tool(spans):
    @otel_cot.tool
    async def fetch(url: str) -> dict:
        await asyncio.sleep(0)
        return {"status": 200, "url": url}

    @otel_cot.tool
    async def stream_lines(n: int):
        for i in range(n):
            yield f"line {i}"

    async def main():
        result = await fetch("https://example.test")
        lines = [line async for line in stream_lines(3)]
        return result, lines

    result, lines = asyncio.run(main())
    assert result == {"status": 200, "url": "https://example.test"} and lines == ["line 0", "line 1", "line 2"]
    by_name = {s.name: attrs(s) for s in _tools(spans)}
    assert json.loads(by_name["execute_tool fetch"]["gen_ai.tool.call.result"]) == result
    assert json.loads(by_name["execute_tool stream_lines"]["gen_ai.tool.call.result"]) == lines


def test_generator_tool_span_covers_the_iteration(spans):
    @otel_cot.tool
    def walk(n):
        yield from range(n)

    gen = walk(3)
    assert next(gen) == 0
    assert _tools(spans) == []
    assert list(gen) == [1, 2]
    (span,) = _tools(spans)
    assert json.loads(attrs(span)["gen_ai.tool.call.result"]) == [0, 1, 2]


def test_tool_arguments_are_redacted(spans):
    @otel_cot.tool
    def shell(command: str) -> str:
        return "ok"

    shell(f"curl -H 'Authorization: token {FAKE_TOKEN}' https://api.example.test")
    (span,) = _tools(spans)
    assert FAKE_TOKEN not in attrs(span)["gen_ai.tool.call.arguments"]
    assert "[REDACTED:" in attrs(span)["gen_ai.tool.call.arguments"]


def test_methods_do_not_capture_self(spans):
    class Repo:
        @otel_cot.tool
        def grep(self, pattern: str) -> list:
            return [pattern]

    assert Repo().grep("TODO") == ["TODO"]
    assert json.loads(attrs(_tools(spans)[0])["gen_ai.tool.call.arguments"]) == {"pattern": "TODO"}


def test_agent_parents_what_runs_inside(spans):
    @otel_cot.tool
    def step():
        return 1

    with otel_cot.agent("fixer", conversation_id="conv-7"):
        step()
        with otel_cot.agent("reviewer"):
            step()
    spans_by_name = {s.name: s for s in spans.all()}
    fixer, reviewer = spans_by_name["invoke_agent fixer"], spans_by_name["invoke_agent reviewer"]
    assert attrs(fixer)["gen_ai.agent.name"] == "fixer" and attrs(fixer)["gen_ai.conversation.id"] == "conv-7"
    assert attrs(fixer)["gen_ai.operation.name"] == "invoke_agent"
    assert reviewer.parent.span_id == fixer.context.span_id
    tool_parents = sorted(t.parent.span_id for t in _tools(spans))
    assert tool_parents == sorted([fixer.context.span_id, reviewer.context.span_id])


def test_agent_as_decorator_sync_and_async_records_errors(spans):
    @otel_cot.agent("planner")
    def plan():
        raise ValueError("no plan")

    @otel_cot.agent("async-planner")
    async def aplan():
        return "done"

    with pytest.raises(ValueError):
        plan()
    assert asyncio.run(aplan()) == "done"
    by_name = {s.name: s for s in spans.all()}
    assert by_name["invoke_agent planner"].status.status_code.name == "ERROR"
    assert by_name["invoke_agent async-planner"].status.status_code.name != "ERROR"


@pytest.mark.expects_internal_errors
def test_tool_still_runs_when_our_code_fails(spans, monkeypatch, internal_errors):
    from otel_cot.instrumentation import tools

    def boom(*args, **kwargs):
        raise RuntimeError("injected")

    monkeypatch.setattr(tools.ToolCall, "__init__", boom)
    monkeypatch.setattr(tools.AgentRun, "__init__", boom)

    @otel_cot.tool
    def add(a, b):
        return a + b

    with otel_cot.agent("x"):
        assert add(2, 3) == 5
    assert internal_errors


def test_capture_off_keeps_the_span_without_content(spans):
    from otel_cot.config import Settings
    from otel_cot.runtime import runtime

    runtime.settings = Settings(capture_content=False)  # as init(capture_content=False) sets it; reset after the test

    @otel_cot.tool
    def secret_tool(x):
        return x

    secret_tool("hidden")
    (span,) = _tools(spans)
    assert "gen_ai.tool.call.arguments" not in attrs(span) and "gen_ai.tool.call.result" not in attrs(span)
