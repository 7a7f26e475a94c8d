"""The runtime guard: judge a tool call between "the model asked for it" and "it runs"; log, ask or block.

    import otel_cot
    otel_cot.init(guard={"categories": {"destructive_action": "block"}})
    decision = otel_cot.check_tool_call("bash", {"command": "git push --force"})

A decision service: a pending call and the trace's history in (``Guard.check``), a ``Decision`` out. The
instrumentation calls it and writes the decision onto the trace (``otel_cot.check_tool_call``, ``@tool``,
MCP, the Agents SDK; docs/guard.md). The detectors are imported on first use, so an agent with no guard
pays nothing.
"""

from __future__ import annotations

from typing import Any

from .api import GUARD_CONFIG_ENV, active, configure, on_block
from .decision import ALLOWED, ASKED_ALLOWED, ASKED_DENIED, BLOCKED, AskRequest, Decision, ToolCallBlocked

_LAZY = {
    "Guard": "check",
    "AllowList": "policy", "Policy": "policy", "Rule": "policy",
    "load_policy": "policy", "policy_from_env": "policy",
}
_MOVED = {"check_tool_call": "otel_cot.check_tool_call", "acheck_tool_call": "otel_cot.acheck_tool_call"}

__all__ = ["ALLOWED", "ASKED_ALLOWED", "ASKED_DENIED", "AskRequest", "BLOCKED", "Decision", "GUARD_CONFIG_ENV",
           "ToolCallBlocked",
           "active", "configure", "on_block", *sorted(_LAZY)]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        hint = f"; use {_MOVED[name]} (it also writes the decision onto the trace)" if name in _MOVED else ""
        raise AttributeError(f"module 'otel_cot.guard' has no attribute {name!r}{hint}")
    import importlib

    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
