"""Client side: ``ClientSession.call_tool`` (and mcp 2.x's ``Client.call_tool``) as ``execute_tool {tool}``.

The span is current while the request is sent, and its trace context goes into the request's
``params._meta``, so the server's span continues the same trace. When the call runs inside an
``execute_tool`` span for the same tool (an agent framework's, e.g. the OpenAI Agents SDK's, or
``@otel_cot.tool``), ours is the MCP conventions' client span ``tools/call {tool}`` under it, carrying the
same ``gen_ai.tool.call.id``, rather than a second ``execute_tool`` span.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any, Callable

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind

from ... import semconv as sc
from ...guard.decision import ToolCallBlocked
from ...internal_errors import report_internal_error
from .. import guard_hooks
from .._base import Telemetry
from .._context import traced_async
from ..tools import ToolCall
from ._common import TOOL_TYPE, TOOLS_CALL, field, with_trace_context
from .results import end_tool_call

CALL_KEY = otel_context.create_key("otel_cot.mcp.client_call")
_SERVER_NAME_ATTR = "_otel_cot_mcp_server_name"


@functools.lru_cache(maxsize=16)
def _has_meta_parameter(func: Callable[..., Any]) -> bool:
    try:
        return "meta" in inspect.signature(func).parameters
    except (TypeError, ValueError):
        return False


def _read(instance: Any, name: str) -> Any:
    try:
        return getattr(instance, name, None)
    except Exception:  # mcp 2.x's Client raises from these properties when not connected
        return None


def _attributes(instance: Any) -> dict[str, Any]:
    attributes: dict[str, Any] = {sc.MCP_METHOD_NAME: TOOLS_CALL}
    # mcp 2.x keeps the initialize (or discover) result; for mcp 1.x our initialize wrapper noted the name.
    name = field(_read(instance, "server_info"), "name") or _read(instance, _SERVER_NAME_ATTR)
    if isinstance(name, str) and name:
        attributes[sc.COT_MCP_SERVER_NAME] = name
    version = _read(instance, "protocol_version")
    if isinstance(version, str):
        attributes[sc.MCP_PROTOCOL_VERSION] = version
    return attributes


class _ClientCall:
    """Our span for one outbound tools/call, while the request is being sent."""

    __slots__ = ("call", "inject_at_send")

    def __init__(self, call: ToolCall, inject_at_send: bool) -> None:
        self.call = call
        self.inject_at_send = inject_at_send

    @property
    def span(self) -> Any:
        return self.call.span


def _enclosing_tool_span(name: str) -> Any:
    """The current span when it is an ``execute_tool`` span for the tool ``name`` (still open), else None."""
    span = trace.get_current_span()
    if span.is_recording() and getattr(span, "name", None) == f"{sc.OPERATION_EXECUTE_TOOL} {name}":
        return span
    return None


def _start(telemetry: Telemetry, wrapped: Callable[..., Any], instance: Any, args: tuple,
           kwargs: dict) -> tuple[ToolCall, object, dict] | None:
    try:
        if otel_context.get_value(CALL_KEY) is not None:
            return None  # mcp 2.x's Client.call_tool is traced; the session calls it makes are part of that span
        name = args[0] if args else kwargs.get("name")
        if not isinstance(name, str):
            return None
        arguments = args[1] if len(args) > 1 else kwargs.get("arguments")
        enclosing = _enclosing_tool_span(name)
        if enclosing is None:
            call = ToolCall(name, arguments=arguments, tool_type=TOOL_TYPE, attributes=_attributes(instance),
                            tracer=telemetry.tracer, settings=telemetry.settings, kind=SpanKind.CLIENT)
        else:  # the enclosing span has the model's call (claimed already): ours is its RPC
            call_id = (getattr(enclosing, "attributes", None) or {}).get(sc.GEN_AI_TOOL_CALL_ID)
            call = ToolCall(name, call_id=call_id if isinstance(call_id, str) else None, arguments=arguments,
                            tool_type=TOOL_TYPE, attributes=_attributes(instance), tracer=telemetry.tracer,
                            settings=telemetry.settings, kind=SpanKind.CLIENT, claim=False,
                            span_name=f"{TOOLS_CALL} {name}")
    except Exception as exc:
        report_internal_error("mcp call_tool start", exc)
        return None
    context = trace.set_span_in_context(call.span)
    takes_meta = False
    try:
        takes_meta = _has_meta_parameter(getattr(wrapped, "__func__", wrapped))
        if takes_meta:  # mcp 2.x would inject the current context itself; mcp 1.x needs us
            kwargs = {**kwargs, "meta": with_trace_context(kwargs.get("meta"), context)}
    except Exception as exc:
        report_internal_error("mcp call_tool meta", exc)
    context = otel_context.set_value(CALL_KEY, _ClientCall(call, inject_at_send=not takes_meta), context)
    try:
        token: object = otel_context.attach(context)
    except Exception as exc:
        report_internal_error("mcp call_tool activate", exc)
        token = None
    return call, token, kwargs


def _end(call: ToolCall, result: Any = None, error: BaseException | None = None) -> None:
    end_tool_call(call, result, error, "client")


def call_tool_wrapper(telemetry: Telemetry) -> Callable[..., Any]:
    async def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict) -> Any:
        started = _start(telemetry, wrapped, instance, args, kwargs)
        if started is None:
            return await wrapped(*args, **kwargs)
        call, token, kwargs = started
        try:  # the guard: a blocked call is never sent; its span is ended
            await guard_hooks.aguard_tool(call, token, args[0] if args else kwargs.get("name"),
                                    args[1] if len(args) > 1 else kwargs.get("arguments"))
        except ToolCallBlocked as blocked:
            return guard_hooks.blocked_mcp_result(blocked)
        return await traced_async(lambda: wrapped(*args, **kwargs), token, functools.partial(_end, call))

    return wrapper


async def send_request_wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict) -> Any:
    """mcp 1.x ``BaseSession.send_request``: before 1.21 ``call_tool`` takes no ``meta``, so the trace
    context goes into the tools/call request it built."""
    try:
        ours = otel_context.get_value(CALL_KEY)
        if isinstance(ours, _ClientCall) and ours.inject_at_send:
            request = args[0] if args else kwargs.get("request")
            inner = getattr(request, "root", request)  # a ClientRequest wraps the CallToolRequest
            params = getattr(inner, "params", None)
            if getattr(inner, "method", None) == TOOLS_CALL and params is not None:
                from mcp.types import RequestParams

                meta = with_trace_context(params.meta, trace.set_span_in_context(ours.span))
                params.meta = RequestParams.Meta(**meta)
                ours.inject_at_send = False
    except Exception as exc:
        report_internal_error("mcp send_request", exc)
    return await wrapped(*args, **kwargs)


async def initialize_wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict) -> Any:
    """Notes the server's name from its initialize result (mcp 1.x sessions do not keep it)."""
    result = await wrapped(*args, **kwargs)
    try:
        name = field(field(result, "server_info", "serverInfo"), "name")
        if isinstance(name, str):
            setattr(instance, _SERVER_NAME_ATTR, name)
    except Exception as exc:
        report_internal_error("mcp initialize", exc)
    return result
