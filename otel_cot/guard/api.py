"""The guard's public entry points: turn it on (``configure``) and check a call (``check_tool_call``).

Light to import: the guard itself (detectors, policy) is loaded by ``configure``.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Mapping

from . import _state
from .decision import Decision

if TYPE_CHECKING:
    from opentelemetry.trace import Span

    from .check import Guard
    from .policy import Policy

_lock = threading.Lock()


def active() -> "Guard | None":
    """The configured guard, or None."""
    return _state.active


def configure(policy: "Policy | Mapping[str, Any] | str | None", **options: Any) -> "Guard | None":
    """Turn the guard on with ``policy`` (a Policy, a mapping, a YAML path), or off with ``None``.

    ``options`` go to the per-trace window (``max_traces``, ``max_trace_age_s``, ``window_views``,
    ``window_chars``) or give the detectors (``detectors=[...]``) in place of the policy's.
    """
    guard = None
    if policy is not None:
        from .check import Guard
        from .policy import load_policy

        guard = Guard(load_policy(policy), **options)
    with _lock:
        _state.active = guard
    return guard


def check_tool_call(name: str, arguments: Any = None, *, call_id: str | None = None,
                    span: "Span | None" = None) -> Decision:
    """Judge a tool call the model asked for, before running it (for loops that dispatch tools themselves).

    Returns the decision (``allowed`` with no guard configured) and records it on ``span``, else on the
    current span if it is a tool span (see ``otel_cot.guard.check.record``). Never raises: act on
    ``decision.allowed``, or ``raise otel_cot.ToolCallBlocked(decision)``.
    """
    guard = _state.active
    if guard is None:
        return Decision(tool=name, rule="guard off")
    return guard.check(name, arguments, call_id=call_id, span=span)


async def acheck_tool_call(name: str, arguments: Any = None, *, call_id: str | None = None,
                           span: "Span | None" = None) -> Decision:
    """:func:`check_tool_call` for async code: an async ``ask`` callback is awaited on the caller's loop."""
    guard = _state.active
    if guard is None:
        return Decision(tool=name, rule="guard off")
    return await guard.acheck(name, arguments, call_id=call_id, span=span)
