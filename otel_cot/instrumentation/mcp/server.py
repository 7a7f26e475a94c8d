"""Server side: each tools/call a server runs as ``execute_tool {tool}``, the child of the client's span.

mcp 2.x: the span opens in the server's ``OpenTelemetryMiddleware`` (on by default, so low-level
``Server`` handlers are covered too), and the MCPServer tool call inside it reports the exception the
tool raised, which the SDK turns into an ``isError`` result. Without that middleware (removed, or
mcp 1.x), ``MCPServer.call_tool`` / ``FastMCP.call_tool`` opens the span itself.
"""

from __future__ import annotations

from typing import Any, Callable

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind

from ... import semconv as sc
from ...internal_errors import report_internal_error
from .._base import Telemetry
from .._context import traced_async
from ..tools import ToolCall
from ._common import TOOL_TYPE, TOOLS_CALL, parent_from
from .results import end_tool_call

CALL_KEY = otel_context.create_key("otel_cot.mcp.server_call")
_WRAPPING_ERRORS = ("ToolError", "UnexpectedToolError")


class _ServerCall:
    """Our span for one inbound tools/call."""

    __slots__ = ("call", "handler_entered", "handler_error")

    def __init__(self, call: ToolCall) -> None:
        self.call = call
        self.handler_entered = False
        self.handler_error: BaseException | None = None

    @property
    def span(self) -> Any:
        return self.call.span

    def end(self, result: Any = None, error: BaseException | None = None) -> None:
        end_tool_call(self.call, result, self.handler_error or error, "server")


def _handler_error(error: BaseException) -> BaseException:
    # MCPServer / FastMCP re-raise what the tool raised inside a ToolError; the span names the tool's own.
    if error.__cause__ is not None and type(error).__name__ in _WRAPPING_ERRORS:
        return error.__cause__
    return error


def _start(telemetry: Telemetry, name: Any, arguments: Any, meta: Any,
           protocol_version: Any = None) -> tuple[_ServerCall, object | None] | None:
    try:
        if not isinstance(name, str):
            return None
        attributes: dict[str, Any] = {sc.MCP_METHOD_NAME: TOOLS_CALL}
        if isinstance(protocol_version, str):
            attributes[sc.MCP_PROTOCOL_VERSION] = protocol_version
        # The server never claims a pending model tool call: the model asked the client, whose span has the id.
        call = ToolCall(name, arguments=arguments, tool_type=TOOL_TYPE, attributes=attributes,
                        tracer=telemetry.tracer, settings=telemetry.settings, parent=parent_from(meta),
                        kind=SpanKind.SERVER, claim=False)
        server_call = _ServerCall(call)
    except Exception as exc:
        report_internal_error("mcp server tool start", exc)
        return None
    try:
        token: object | None = otel_context.attach(
            otel_context.set_value(CALL_KEY, server_call, trace.set_span_in_context(call.span)))
    except Exception as exc:
        report_internal_error("mcp server tool activate", exc)
        token = None
    return server_call, token


def _request(ctx: Any) -> tuple[Any, Any, Any, Any] | None:
    """(name, arguments, _meta, protocol version) of a tools/call reaching mcp 2.x's middleware."""
    if getattr(ctx, "method", None) != TOOLS_CALL:
        return None
    params = getattr(ctx, "params", None) or {}
    meta, version = getattr(ctx, "meta", None), getattr(ctx, "protocol_version", None)
    return params.get("name"), params.get("arguments"), meta, version


def middleware_wrapper(telemetry: Telemetry) -> Callable[..., Any]:
    """``OpenTelemetryMiddleware.__call__(ctx, call_next)`` (mcp 2.x)."""

    async def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict) -> Any:
        started = None
        try:
            request = _request(args[0] if args else kwargs.get("ctx"))
            if request is not None:
                started = _start(telemetry, *request)
        except Exception as exc:
            report_internal_error("mcp server request", exc)
        if started is None:
            return await wrapped(*args, **kwargs)
        server_call, token = started
        return await traced_async(lambda: wrapped(*args, **kwargs), token, server_call.end)

    return wrapper


def _handler_request(instance: Any, args: tuple, kwargs: dict) -> tuple[Any, Any, Any]:
    """(name, arguments, _meta) of ``MCPServer.call_tool(name, arguments, context)`` (mcp 1.x: no context)."""
    name = args[0] if args else kwargs.get("name")
    arguments = args[1] if len(args) > 1 else kwargs.get("arguments")
    context = args[2] if len(args) > 2 else kwargs.get("context")
    if context is None and callable(getattr(instance, "get_context", None)):
        context = instance.get_context()  # mcp 1.x FastMCP: the request being handled
    request_context = getattr(context, "_request_context", None)
    return name, arguments, getattr(request_context, "meta", None)


def handler_wrapper(telemetry: Telemetry) -> Callable[..., Any]:
    """``MCPServer.call_tool`` (mcp 2.x) and ``FastMCP.call_tool`` (mcp 1.x)."""

    async def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict) -> Any:
        outer = otel_context.get_value(CALL_KEY)
        if isinstance(outer, _ServerCall) and not outer.handler_entered:
            outer.handler_entered = True  # this request's span is open; a nested tool call gets its own
            try:
                return await wrapped(*args, **kwargs)
            except BaseException as exc:
                outer.handler_error = _handler_error(exc)
                raise
        started = None
        try:
            name, arguments, meta = _handler_request(instance, args, kwargs)
            # A tool calling another tool: the inner span is the child of the outer, not of the client's.
            started = _start(telemetry, name, arguments, None if outer is not None else meta)
        except Exception as exc:
            report_internal_error("mcp server tool request", exc)
        if started is None:
            return await wrapped(*args, **kwargs)
        server_call, token = started

        def end(result: Any, error: BaseException | None) -> None:
            server_call.end(result, _handler_error(error) if error is not None else None)

        return await traced_async(lambda: wrapped(*args, **kwargs), token, end)

    return wrapper
