"""``check_tool_call``: the guard for loops that dispatch tools themselves, its decision written onto the trace.

    decision = otel_cot.check_tool_call(block.name, block.input, call_id=block.id)
    if not decision.allowed:
        ...  # send decision.message to the model, or raise otel_cot.ToolCallBlocked(decision)
"""

from __future__ import annotations

from typing import Any

from opentelemetry import trace
from opentelemetry.trace import Span

from .. import semconv as sc
from ..guard.decision import Decision, ToolCallBlocked
from ..internal_errors import report_internal_error
from ..runtime import runtime
from .guard_hooks import decision_attributes
from .tools import ToolCall


def check_tool_call(name: str, arguments: Any = None, *, call_id: str | None = None,
                    span: Span | None = None) -> Decision:
    """Judge a tool call the model asked for, before running it (for loops that dispatch tools themselves).

    Returns the decision (``allowed`` with no guard configured) and records it on ``span``, else on the
    current span if it is a tool span (see :func:`record`). Never raises: act on ``decision.allowed``, or
    ``raise otel_cot.ToolCallBlocked(decision)``.
    """
    guard = runtime.guard
    if guard is None:
        return Decision(tool=name, rule="guard off")
    return _recorded(guard.check(name, arguments, call_id=call_id, span=span), span)


async def acheck_tool_call(name: str, arguments: Any = None, *, call_id: str | None = None,
                           span: Span | None = None) -> Decision:
    """:func:`check_tool_call` for async code: an async ``ask`` callback is awaited on the caller's loop."""
    guard = runtime.guard
    if guard is None:
        return Decision(tool=name, rule="guard off")
    return _recorded(await guard.acheck(name, arguments, call_id=call_id, span=span), span)


def _recorded(decision: Decision, span: Span | None) -> Decision:
    try:
        record(decision, span)
    except Exception as exc:
        report_internal_error("guard record", exc)
    return decision


def record(decision: Decision, span: Span | None = None) -> None:
    """Write the decision onto the tool span (``span``, else the current span if it is a tool span).

    Without a tool span (a loop that runs its tools untraced) the decision goes onto the current span as a
    ``cot.guard.decision`` event, and a blocked call gets an ``execute_tool {name}`` span of its own, so
    what was stopped shows in the trace.
    """
    attributes = decision_attributes(decision)
    target = span if span is not None else trace.get_current_span()
    is_tool_span = span is not None or (getattr(target, "attributes", None) or {}).get(
        sc.GEN_AI_OPERATION_NAME) == sc.OPERATION_EXECUTE_TOOL
    if is_tool_span:
        target.set_attributes(attributes)
        return
    if target.is_recording():
        target.add_event(sc.COT_GUARD_DECISION_EVENT, attributes)
    if not decision.allowed:
        ToolCall(decision.tool, attributes=attributes).fail(ToolCallBlocked(decision))
