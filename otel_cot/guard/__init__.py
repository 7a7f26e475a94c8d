"""The runtime guard: judge a tool call between "the model asked for it" and "it runs"; log, ask or block.

    import otel_cot
    otel_cot.init(guard={"categories": {"destructive_action": "block"}})
    decision = otel_cot.check_tool_call("bash", {"command": "git push --force"})

See docs/guard.md for the policy format and how each integration (``@tool``, MCP, the Agents SDK)
applies the decision. The detectors are imported on first use, so an agent with no guard pays nothing.
"""

from __future__ import annotations

from typing import Any

from .api import acheck_tool_call, active, check_tool_call, configure
from .decision import ALLOWED, ASKED_ALLOWED, ASKED_DENIED, BLOCKED, AskRequest, Decision, ToolCallBlocked

_LAZY = {
    "Guard": "check", "record": "check",
    "GUARD_CONFIG_ENV": "policy", "AllowList": "policy", "Policy": "policy", "Rule": "policy",
    "load_policy": "policy", "policy_from_env": "policy",
}

__all__ = ["ALLOWED", "ASKED_ALLOWED", "ASKED_DENIED", "AskRequest", "BLOCKED", "Decision", "ToolCallBlocked",
           "acheck_tool_call", "active", "check_tool_call", "configure", *sorted(_LAZY)]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'otel_cot.guard' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
