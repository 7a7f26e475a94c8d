"""MCP: a real client and a real server (tests/support/mcp_server.py) talking over stdio.

The server runs in a subprocess with ``otel_cot.init()`` and exports its spans to a loopback OTLP
sink; the client's spans land in the in-memory exporter. Each tool call must be one client span and
one server span in one trace, the server's the child of the client's.
"""

from __future__ import annotations

import importlib.util
import json

import pytest
import wrapt
from opentelemetry.trace import StatusCode

from otel_cot import semconv as sc
from otel_cot.instrumentation import tools
from otel_cot.instrumentation.mcp import _common, client, results, server

from .conftest import attrs
from .support import mcp_server
from .support.mcp_client import dump, in_process, server_spans, stdio_session
from .support.otlp_sink import OtlpSink

_SDK_TRACES_ITSELF = importlib.util.find_spec("mcp.server._otel") is not None  # mcp 2.x

CALLS = [
    ("compute_fib", {"n": 10}, None),
    ("reject", {"reason": "no such file"}, None),
    ("divide", {"a": 1, "b": 0}, None),
    ("request_meta", {}, {"custom": "kept"}),
]


@pytest.fixture(scope="module")
def sink():
    receiver = OtlpSink()
    yield receiver
    receiver.close()


async def _call_all(session) -> list:
    return [await session.call_tool(name, arguments, meta=meta) for name, arguments, meta in CALLS]


def _hex(span_id: int, width: int = 16) -> str:
    return format(span_id, f"0{width}x")


def _pairs(spans, sink):
    """(client span, server span) per call, in call order."""
    clients = sorted((s for s in spans.all() if s.name.startswith("execute_tool")), key=lambda s: s.start_time)
    assert [s.name for s in clients] == [f"execute_tool {name}" for name, _, _ in CALLS]
    assert not [s.name for s in spans.all() if s.name.startswith("MCP send tools/call")], "the SDK's span is ours"
    by_trace = {}
    for span in server_spans(sink, {_hex(c.context.trace_id, 32) for c in clients}, len(CALLS)):
        assert not span["name"].startswith("tools/call"), "the SDK's server span is ours"
        if span["name"].startswith("execute_tool"):  # the client also lists tools, to validate a result
            by_trace.setdefault(span["trace_id"], []).append(span)
    pairs = []
    for c in clients:
        (s,) = by_trace.get(_hex(c.context.trace_id, 32), [None])  # exactly one server span in the call's trace
        assert s is not None and s["name"] == c.name
        pairs.append((c, s))
    return pairs


@pytest.mark.process
async def test_each_call_is_one_client_and_one_server_span_in_one_trace(mcp_instrumentation, spans, sink):
    async with stdio_session(sink) as session:
        results = [dump(r) for r in await _call_all(session)]
    pairs = _pairs(spans, sink)
    for c, s in pairs:
        assert s["parent"] == _hex(c.context.span_id), "the server span continues the client's"
        for a in (attrs(c), s["attributes"]):
            assert a[sc.GEN_AI_TOOL_TYPE] == "mcp"
            assert a[sc.MCP_METHOD_NAME] == "tools/call"
        assert attrs(c)[sc.COT_MCP_SERVER_NAME] == mcp_server.NAME
        assert attrs(c)[sc.GEN_AI_TOOL_CALL_ARGUMENTS] == s["attributes"][sc.GEN_AI_TOOL_CALL_ARGUMENTS]

    (fib_c, fib_s), (reject_c, reject_s), (divide_c, divide_s), (meta_c, _meta_s) = pairs
    assert json.loads(attrs(fib_c)[sc.GEN_AI_TOOL_CALL_ARGUMENTS]) == {"n": 10}
    expected = {"content": "55", "structuredContent": {"result": 55}}
    assert json.loads(attrs(fib_c)[sc.GEN_AI_TOOL_CALL_RESULT]) == expected
    assert json.loads(fib_s["attributes"][sc.GEN_AI_TOOL_CALL_RESULT]) == expected
    assert fib_c.status.status_code == StatusCode.UNSET and fib_s["status"] == 0

    # An error result: marked on both sides, its text kept.
    assert results[1]["isError"]
    for a, status in ((attrs(reject_c), reject_c.status.status_code == StatusCode.ERROR),
                      (reject_s["attributes"], reject_s["status"] == 2)):
        assert status and a[sc.ERROR_TYPE] == "tool_error"
        assert a[sc.GEN_AI_TOOL_CALL_RESULT] == "no such file"

    # The tool raised: the server span names the exception, the client sees an error result.
    assert results[2]["isError"]
    assert divide_s["status"] == 2 and divide_s["attributes"][sc.ERROR_TYPE] == "ZeroDivisionError"
    assert divide_c.status.status_code == StatusCode.ERROR and attrs(divide_c)[sc.ERROR_TYPE] == "tool_error"

    # The caller's own _meta reached the server beside the trace context (which the parentage above shows).
    assert results[3]["structuredContent"] == {"result": ["custom"]}
    assert json.loads(attrs(meta_c)[sc.GEN_AI_TOOL_CALL_ARGUMENTS]) == {}


@pytest.mark.process
async def test_results_are_the_same_with_and_without_instrumentation(mcp_instrumentation, instrumentation, spans,
                                                                      sink):
    mcp_instrumentation.uninstrument()
    instrumentation.off()
    async with stdio_session(sink, traced=False) as session:
        bare = [dump(r) for r in await _call_all(session)]
    mcp_instrumentation.instrument(settings=instrumentation.settings)
    instrumentation.on()
    async with stdio_session(sink) as session:
        traced = [dump(r) for r in await _call_all(session)]
    assert traced == bare


@pytest.mark.process
async def test_our_own_meta_injection_links_the_server_span(mcp_instrumentation, spans, sink, monkeypatch):
    """mcp 2.x injects trace context itself; without that (mcp 1.x) ours must be enough."""
    try:
        from mcp.shared import jsonrpc_dispatcher
    except ImportError:  # mcp 1.x: nothing to switch off
        pass
    else:
        monkeypatch.setattr(jsonrpc_dispatcher, "inject_trace_context", lambda meta: None)
    async with stdio_session(sink) as session:
        await session.call_tool("compute_fib", {"n": 3})
    (c,) = [s for s in spans.all() if s.name == "execute_tool compute_fib"]
    (s,) = server_spans(sink, {_hex(c.context.trace_id, 32)}, 1)
    assert s["parent"] == _hex(c.context.span_id)


async def test_in_process_call_is_one_client_and_one_server_span(mcp_instrumentation, spans):
    async with in_process(mcp_server.build()) as session:
        await session.call_tool("compute_fib", {"n": 5})
    tool_spans = sorted((s for s in spans.all() if s.name == "execute_tool compute_fib"), key=lambda s: s.start_time)
    assert len(tool_spans) == 2
    outer, inner = tool_spans
    assert inner.parent.span_id == outer.context.span_id
    assert attrs(outer)[sc.COT_MCP_SERVER_NAME] == mcp_server.NAME


async def test_server_span_without_the_sdks_middleware(mcp_instrumentation, spans):
    async with in_process(_without_sdk_middleware(mcp_server.build())) as session:
        await session.call_tool("compute_fib", {"n": 5})
        await session.call_tool("divide", {"a": 1, "b": 0})
    fib = sorted((s for s in spans.all() if s.name == "execute_tool compute_fib"), key=lambda s: s.start_time)
    assert [s.parent.span_id for s in fib[1:]] == [fib[0].context.span_id]
    assert json.loads(attrs(fib[1])[sc.GEN_AI_TOOL_CALL_RESULT])["content"] == "5"
    divide = sorted((s for s in spans.all() if s.name == "execute_tool divide"), key=lambda s: s.start_time)
    assert [attrs(s)[sc.ERROR_TYPE] for s in divide] == ["tool_error", "ZeroDivisionError"]


def _boom(*args, **kwargs):
    raise RuntimeError("otel-cot bug injected by the test")


SABOTAGE = [
    (client, "_attributes"), (results, "tool_result"), (client, "with_trace_context"), (client, "ToolCall"),
    (server, "_request"), (server, "_handler_request"), (server, "parent_from"),
    (server, "ToolCall"), (_common, "meta_dict"), (tools.ToolCall, "finish"), (tools.ToolCall, "fail"),
    (server._ServerCall, "span"),
]


def _without_sdk_middleware(built):
    """mcp 2.x: no OpenTelemetryMiddleware, so MCPServer.call_tool opens the server span (as on mcp 1.x)."""
    lowlevel = getattr(built, "_lowlevel_server", None)
    if lowlevel is not None:
        lowlevel.middleware = []
    return built


async def _in_process_results(middleware: bool = True) -> list:
    built = mcp_server.build()  # after instrumenting: mcp 1.x binds call_tool when the server is built
    async with in_process(built if middleware else _without_sdk_middleware(built)) as session:
        return [dump(r) for r in await _call_all(session)]


@pytest.mark.expects_internal_errors
@pytest.mark.parametrize("owner,attribute", SABOTAGE, ids=[f"{getattr(o, '__name__', o)}.{a}" for o, a in SABOTAGE])
async def test_results_unchanged_when_our_code_raises(owner, attribute, mcp_instrumentation, instrumentation, spans,
                                                      internal_errors, monkeypatch):
    if attribute in ("_request", "span") and not _SDK_TRACES_ITSELF:
        pytest.skip("hooks into mcp 2.x's own tracing")
    middleware = attribute != "_handler_request"
    mcp_instrumentation.uninstrument()
    bare = await _in_process_results(middleware)
    mcp_instrumentation.instrument(settings=instrumentation.settings)
    monkeypatch.setattr(owner, attribute, property(_boom) if attribute == "span" else _boom)
    assert await _in_process_results(middleware) == bare
    assert internal_errors, "the injected failure was never reached"


def test_uninstrument_restores_the_sdk(mcp_instrumentation):
    from mcp.client.session import ClientSession

    wrapped = list(mcp_instrumentation._wrapped)
    assert (ClientSession, "call_tool") in wrapped
    assert all(isinstance(vars(owner)[attribute], wrapt.FunctionWrapper) for owner, attribute in wrapped)
    mcp_instrumentation.uninstrument()
    assert not any(isinstance(vars(owner)[attribute], wrapt.ObjectProxy) for owner, attribute in wrapped)


def test_mcp_attribute_names_are_the_semconv_packages():
    mcp_attributes = pytest.importorskip("opentelemetry.semconv._incubating.attributes.mcp_attributes")
    assert sc.MCP_METHOD_NAME == mcp_attributes.MCP_METHOD_NAME
    assert sc.MCP_PROTOCOL_VERSION == mcp_attributes.MCP_PROTOCOL_VERSION


@pytest.mark.process
async def test_inside_a_framework_tool_span_the_client_span_is_tools_call(mcp_instrumentation, spans, sink):
    """An agent framework's execute_tool span around the MCP call (the OpenAI Agents SDK makes one): the
    client span is the MCP conventions' ``tools/call {tool}`` under it, not a second execute_tool span."""
    from opentelemetry import context as otel_context
    from opentelemetry.trace import SpanKind

    outer = tools.ToolCall("compute_fib", call_id="call_fib_1")
    token = outer.activate()
    try:
        async with stdio_session(sink) as session:
            result = dump(await session.call_tool("compute_fib", {"n": 6}))
    finally:
        otel_context.detach(token)
        outer.finish(result)
    assert result["structuredContent"] == {"result": 8}
    assert [s.name for s in spans.all()].count("execute_tool compute_fib") == 1
    (rpc,) = [s for s in spans.all() if s.name == "tools/call compute_fib"]
    assert rpc.kind == SpanKind.CLIENT and rpc.parent.span_id == outer.span.get_span_context().span_id
    assert attrs(rpc)[sc.GEN_AI_TOOL_CALL_ID] == "call_fib_1"  # the same call: judged once by the detectors
    assert attrs(rpc)[sc.MCP_METHOD_NAME] == "tools/call" and attrs(rpc)[sc.GEN_AI_TOOL_TYPE] == "mcp"
    assert json.loads(attrs(rpc)[sc.GEN_AI_TOOL_CALL_ARGUMENTS]) == {"n": 6}
    found = server_spans(sink, {_hex(rpc.context.trace_id, 32)}, 1)
    (server_side,) = [s for s in found if s["name"] == "execute_tool compute_fib"]
    assert server_side["parent"] == _hex(rpc.context.span_id), "the server span continues the RPC's"
