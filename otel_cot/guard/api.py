"""The guard's public entry points: turn it on (``configure``), read it (``active``), and what a blocked call
does in each integration (``on_block``).

Light to import: the guard itself (detectors, policy) is loaded by ``configure``. Checking a call and
writing the decision onto the trace is the instrumentation's: ``otel_cot.check_tool_call``.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Mapping

from ..config import GUARD_CONFIG_ENV
from ..runtime import runtime

if TYPE_CHECKING:
    from .check import Guard
    from .policy import Policy

__all__ = ["GUARD_CONFIG_ENV", "active", "configure", "on_block"]

_lock = threading.Lock()


def active() -> "Guard | None":
    """The configured guard, or None."""
    return runtime.guard


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
        runtime.guard = guard
    return guard


def on_block(integration: str) -> str:
    """``raise`` or ``message``: what a blocked call does in ``integration`` (``tool``, ``mcp``, ``agents``)."""
    guard = runtime.guard
    mode = guard.policy.on_block if guard is not None else "auto"
    if mode == "auto":
        return "raise" if integration == "tool" else "message"
    return mode
