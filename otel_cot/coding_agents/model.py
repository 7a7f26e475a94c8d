"""What the session readers find in an agent's files, in agent-neutral terms.

A reader turns lines of one agent's session file into these items; :mod:`.spans` turns the items into the
spans the SDK writes (docs/spans.md). Times are ns since the epoch, taken from the file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Message = dict[str, Any]
"""A message in the GenAI semantic-convention shape: {"role", "parts": [...]}."""

CLAUDE_CODE = "claude_code"
CODEX = "codex"
GEMINI_CLI = "gemini_cli"
AGENTS = (CLAUDE_CODE, CODEX, GEMINI_CLI)


@dataclass(slots=True)
class Scope:
    """Where a file's spans hang in its session's trace.

    ``session`` names the trace (the top-level session: a subagent's file carries its parent's session);
    ``agent_key`` is None for the session's own file, else the subagent whose ``invoke_agent`` span is the
    parent of that file's spans (itself a child of the session's root).
    """

    agent: str
    session: str
    agent_key: str | None = None
    agent_name: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"agent": self.agent, "session": self.session, "agent_key": self.agent_key,
                "agent_name": self.agent_name}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Scope":
        return cls(str(data["agent"]), str(data["session"]), data.get("agent_key"), data.get("agent_name"))


@dataclass(slots=True)
class Reasoning:
    text: str | None
    source: str
    redacted: bool = False
    start_ns: int = 0
    end_ns: int = 0


@dataclass(slots=True)
class Usage:
    input_tokens: int | None = None
    output_tokens: int | None = None
    reasoning_tokens: int | None = None
    cache_read_tokens: int | None = None
    cache_creation_tokens: int | None = None


@dataclass(slots=True)
class ModelTurn:
    """One model call: what was new in its input, what it answered (reasoning, text, tool calls)."""

    key: str  # stable within the session: the message id, or the position of its first record
    agent_key: str | None  # the subagent / sidechain it belongs to (None: the session's own agent)
    model: str | None
    provider: str
    start_ns: int
    end_ns: int
    input_messages: list[Message] = field(default_factory=list)
    output_parts: list[dict[str, Any]] = field(default_factory=list)
    reasoning: list[Reasoning] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    response_id: str | None = None
    finish_reason: str | None = None
    compaction: bool = False


@dataclass(slots=True)
class ToolRun:
    """One tool call the model asked for and, once the file has it, its result."""

    call_id: str
    name: str
    arguments: Any
    agent_key: str | None
    turn_key: str | None  # the model turn that asked for it
    start_ns: int
    end_ns: int = 0
    result: str | None = None
    error: bool = False
    has_result: bool = False


@dataclass(slots=True)
class SubagentEnd:
    """A sidechain / subagent seen inside a file: its ``invoke_agent`` span, emitted when the file is done."""

    agent_key: str
    name: str
    start_ns: int
    end_ns: int


Item = ModelTurn | ToolRun | SubagentEnd
