"""Where the instrumentation calls the guard: before a ``@tool`` / MCP / Agents SDK tool runs, and as model
calls and tools finish (to feed the per-trace window). Each hook is a no-op while no guard is configured,
and none raises into the user's call except the deliberate ``ToolCallBlocked``."""

from __future__ import annotations

from typing import Any

from .. import semconv as sc
from .._guard import report_internal_error
from ..instrumentation._context import detach
from . import _state
from .decision import Decision, ToolCallBlocked


def active() -> Any:
    return _state.active


def observe_model_call(span: Any, input_messages: Any, output_messages: Any) -> None:
    guard = active()
    if guard is None:
        return
    try:
        guard.observe_model_call(span, input_messages, output_messages)
    except Exception as exc:
        report_internal_error("guard observe model call", exc)


def observe_tool_result(span: Any, result: Any, error: bool) -> None:
    guard = active()
    if guard is None or result is None:
        return
    try:
        attributes = getattr(span, "attributes", None) or {}
        guard.observe_tool_result(span, attributes.get(sc.GEN_AI_TOOL_NAME), attributes.get(sc.GEN_AI_TOOL_CALL_ID),
                                  result, error)
    except Exception as exc:
        report_internal_error("guard observe tool result", exc)


def on_block(integration: str) -> str:
    """``raise`` or ``message``: what a blocked call does in ``integration`` (``tool``, ``mcp``, ``agents``)."""
    guard = active()
    mode = guard.policy.on_block if guard is not None else "auto"
    if mode == "auto":
        return "raise" if integration == "tool" else "message"
    return mode


def _stop(call: Any, token: object | None, decision: Decision) -> ToolCallBlocked:
    """End the tool span of a blocked call; the error to raise."""
    blocked = ToolCallBlocked(decision)
    detach(token, "guard detach")
    try:
        call.fail(blocked)
    except Exception as exc:
        report_internal_error("guard end blocked span", exc)
    return blocked


def guard_tool(call: Any, token: object | None, name: str, arguments: Any) -> None:
    """Check a started tool call; when blocked, its span is ended and ``ToolCallBlocked`` raised."""
    guard = active()
    if guard is None or call is None:
        return
    try:
        decision = guard.check(name, arguments, call_id=call.call_id, span=call.span)
    except Exception as exc:  # Guard.check handles its own failures; this is a last resort
        report_internal_error("guard tool", exc)
        return
    if not decision.allowed:
        raise _stop(call, token, decision)


async def aguard_tool(call: Any, token: object | None, name: str, arguments: Any) -> None:
    guard = active()
    if guard is None or call is None:
        return
    try:
        decision = await guard.acheck(name, arguments, call_id=call.call_id, span=call.span)
    except Exception as exc:
        report_internal_error("guard tool", exc)
        return
    if not decision.allowed:
        raise _stop(call, token, decision)


def blocked_tool_result(blocked: ToolCallBlocked) -> Any:
    """What a blocked ``@tool`` function returns: its message (``on_block: message``), else re-raise."""
    if on_block("tool") == "message":
        return blocked.decision.message
    raise blocked


def blocked_mcp_result(blocked: ToolCallBlocked) -> Any:
    """An MCP error result carrying the reason (``isError: true``), or re-raise with ``on_block: raise``."""
    if on_block("mcp") == "raise":
        raise blocked
    from mcp.types import CallToolResult, TextContent

    return CallToolResult(content=[TextContent(type="text", text=blocked.decision.message)], isError=True)
