"""Where the instrumentation calls the guard: before a ``@tool`` / MCP tool runs, and as model calls and tools
finish (to feed the per-trace window); and how a decision is written onto a tool span.

Each hook is a no-op while no guard is configured (one attribute read), and none raises into the user's
call except the deliberate ``ToolCallBlocked``.
"""

from __future__ import annotations

from typing import Any

from .. import semconv as sc
from ..config import current
from ..content import clean
from ..guard.api import on_block
from ..guard.decision import Decision, ToolCallBlocked
from ..internal_errors import report_internal_error
from ..runtime import runtime
from ._context import detach


def observe_model_call(span: Any, input_messages: Any, output_messages: Any) -> None:
    guard = runtime.guard
    if guard is None:
        return
    try:
        guard.observe_model_call(span, input_messages, output_messages)
    except Exception as exc:
        report_internal_error("guard observe model call", exc)


def observe_tool_result(span: Any, result: Any, error: bool) -> None:
    guard = runtime.guard
    if guard is None or result is None:
        return
    try:
        attributes = getattr(span, "attributes", None) or {}
        guard.observe_tool_result(span, attributes.get(sc.GEN_AI_TOOL_NAME), attributes.get(sc.GEN_AI_TOOL_CALL_ID),
                                  result, error)
    except Exception as exc:
        report_internal_error("guard observe tool result", exc)


# --- the decision on the span ------------------------------------------------------------------
def decision_attributes(decision: Decision) -> dict[str, Any]:
    attributes: dict[str, Any] = {
        sc.COT_GUARD_DECISION: decision.outcome,
        sc.COT_GUARD_ACTION: decision.action,
        sc.COT_GUARD_DURATION_MS: round(decision.duration_ms, 4),
        sc.COT_GUARD_FINDING_COUNT: len(decision.findings),
    }
    if decision.rule:
        attributes[sc.COT_GUARD_RULE] = decision.rule
    finding = decision.finding
    if finding is not None:
        settings = current()
        attributes[sc.COT_GUARD_FINDING_CATEGORY] = finding.category
        attributes[sc.COT_GUARD_FINDING_SEVERITY] = finding.severity
        attributes[sc.COT_GUARD_FINDING_DETECTOR] = finding.detector_id
        attributes[sc.COT_GUARD_FINDING_EXPLANATION] = clean(finding.explanation, settings).text
        if finding.evidence and settings.capture_content:
            attributes[sc.COT_GUARD_FINDING_EVIDENCE] = clean(finding.evidence[:512], settings).text
        if finding.related_span_id:
            attributes[sc.COT_FINDING_RELATED_SPAN_ID] = finding.related_span_id
    if decision.error:
        attributes[sc.COT_GUARD_ERROR] = decision.error
    return attributes


def write_decision(decision: Decision, tool_span: Any) -> None:
    """The decision's attributes on the tool's span."""
    try:
        tool_span.set_attributes(decision_attributes(decision))
    except Exception as exc:
        report_internal_error("guard record", exc)


# --- before a traced tool runs -----------------------------------------------------------------
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
    """Check a started tool call (a ``ToolCall``) and record the decision on its span; when blocked, the span
    is ended and ``ToolCallBlocked`` raised."""
    guard = runtime.guard
    if guard is None or call is None:
        return
    try:
        decision = guard.check(name, arguments, call_id=call.call_id, span=call.span)
    except Exception as exc:  # Guard.check handles its own failures; this is a last resort
        report_internal_error("guard tool", exc)
        return
    write_decision(decision, call.span)
    if not decision.allowed:
        raise _stop(call, token, decision)


async def aguard_tool(call: Any, token: object | None, name: str, arguments: Any) -> None:
    guard = runtime.guard
    if guard is None or call is None:
        return
    try:
        decision = await guard.acheck(name, arguments, call_id=call.call_id, span=call.span)
    except Exception as exc:
        report_internal_error("guard tool", exc)
        return
    write_decision(decision, call.span)
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
