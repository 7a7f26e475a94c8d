"""What the guard decided about one pending tool call, and the error a blocked call raises."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..detectors.base import Finding

ALLOWED = "allowed"
BLOCKED = "blocked"
ASKED_ALLOWED = "asked-allowed"
ASKED_DENIED = "asked-denied"

LOG = "log"
BLOCK = "block"
ASK = "ask"
ACTIONS = (LOG, ASK, BLOCK)  # weakest first


@dataclass(frozen=True)
class Decision:
    """The guard's verdict on one tool call.

    ``outcome`` is ``allowed``, ``blocked``, ``asked-allowed`` or ``asked-denied``; ``action`` is the
    policy action that applied (``log``, ``ask``, ``block``); ``rule`` names the policy rule (or
    allow-list entry, or ``on_error``) that gave it; ``finding`` is the finding that decided and
    ``findings`` all of them. ``error`` is set when the guard itself failed or overran and the
    ``on_error`` setting decided.
    """

    tool: str
    outcome: str = ALLOWED
    action: str = LOG
    rule: str | None = None
    findings: tuple[Finding, ...] = ()
    finding: Finding | None = None
    duration_ms: float = 0.0
    error: str | None = None
    reason: str = ""

    @property
    def allowed(self) -> bool:
        return self.outcome in (ALLOWED, ASKED_ALLOWED)

    @property
    def message(self) -> str:
        """The text a model is shown in place of the tool's result when the call is blocked."""
        if self.allowed:
            return ""
        why = self.reason or (self.finding.explanation if self.finding else "blocked by policy")
        parts = [f"Tool call '{self.tool}' was blocked by the otel-cot guard: {why}"]
        if self.finding is not None:
            parts.append(f"({self.finding.category}, {self.finding.severity}, detector {self.finding.detector_id}")
            parts[-1] += f", rule {self.rule})" if self.rule else ")"
        elif self.rule:
            parts.append(f"(rule {self.rule})")
        return " ".join(parts)


class ToolCallBlocked(Exception):
    """Raised in place of running a tool the guard blocked. ``decision`` says why."""

    def __init__(self, decision: Decision) -> None:
        super().__init__(decision.message)
        self.decision = decision

    @property
    def findings(self) -> tuple[Finding, ...]:
        return self.decision.findings

    @property
    def finding(self) -> Finding | None:
        return self.decision.finding


@dataclass(frozen=True)
class AskRequest:
    """What an ``ask`` callback is given: the pending call, the finding that asks, the rule."""

    tool: str
    arguments: Any
    finding: Finding
    rule: str
    findings: tuple[Finding, ...] = field(default_factory=tuple)
