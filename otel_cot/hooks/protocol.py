"""What each agent's hook hands over on stdin, in agent-neutral terms.

| | Claude Code | Codex CLI | Gemini CLI |
|---|---|---|---|
| before a tool call | ``PreToolUse`` | ``PreToolUse`` | ``BeforeTool`` |
| after it | ``PostToolUse`` | ``PostToolUse`` | ``AfterTool`` |
| the agent's answer is done | ``Stop`` | ``Stop`` | ``AfterAgent`` |
| the session ends | ``SessionEnd`` | (none) | ``SessionEnd`` |

Every input has ``session_id``, ``transcript_path``, ``cwd`` and ``hook_event_name``; tool events add
``tool_name`` and ``tool_input`` (Claude Code and Codex also ``tool_use_id``, the id the transcript gives the
call; Gemini CLI has none). Sources: code.claude.com/docs/en/hooks; openai/codex ``codex-rs/hooks/schema``
(``pre-tool-use.command.input.schema.json``); google-gemini/gemini-cli ``docs/hooks/reference.md`` and
``packages/core/src/hooks/types.ts``. The answers are rendered by :func:`otel_cot.hooks.client.render`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from otel_cot.coding_agents.reader import loads

from .client import CLAUDE_CODE, CODEX, GEMINI_CLI

PRE, POST, TURN_END, SESSION_END = "pre", "post", "turn_end", "session_end"

EVENTS: dict[str, dict[str, str]] = {
    CLAUDE_CODE: {"PreToolUse": PRE, "PostToolUse": POST, "Stop": TURN_END, "SessionEnd": SESSION_END},
    CODEX: {"PreToolUse": PRE, "PostToolUse": POST, "Stop": TURN_END, "SessionEnd": SESSION_END},
    GEMINI_CLI: {"BeforeTool": PRE, "AfterTool": POST, "AfterAgent": TURN_END, "SessionEnd": SESSION_END},
}
# Agents whose hooks have no session end (Codex: codex-rs/config ``HookEventsToml`` has no SessionEnd): the
# session's root span is exported at the end of its first answer instead.
NO_SESSION_END = frozenset({CODEX})
AGENT_NAMES = {"claude-code": CLAUDE_CODE, "claude_code": CLAUDE_CODE, "claude": CLAUDE_CODE,
               "codex": CODEX, "codex-cli": CODEX, "gemini-cli": GEMINI_CLI, "gemini_cli": GEMINI_CLI,
               "gemini": GEMINI_CLI}


class HookInputError(ValueError):
    """The hook's stdin is not what the agent's protocol says."""


@dataclass
class HookInput:
    agent: str
    event: str
    kind: str
    session_id: str
    transcript_path: str | None
    cwd: str | None = None
    tool_name: str | None = None
    tool_input: Any = None
    tool_use_id: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)


def agent_of(name: str) -> str:
    try:
        return AGENT_NAMES[name.lower()]
    except KeyError:
        raise ValueError(f"unknown agent {name!r} (one of claude-code, codex, gemini-cli)") from None


def parse(agent: str, event: str, payload: bytes | str) -> HookInput:
    """The hook's stdin as a :class:`HookInput`; :class:`HookInputError` when it cannot be one."""
    kind = EVENTS.get(agent, {}).get(event)
    if kind is None:
        raise HookInputError(f"{agent} has no hook event {event!r} that otel-cot handles")
    try:
        data = loads(payload)
    except ValueError as exc:
        raise HookInputError(f"the hook input is not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise HookInputError("the hook input is not a JSON object")
    session = data.get("session_id")
    if not isinstance(session, str) or not session:
        raise HookInputError("the hook input has no session_id")
    transcript = data.get("transcript_path")
    hook = HookInput(agent=agent, event=event, kind=kind, session_id=session,
                     transcript_path=transcript if isinstance(transcript, str) and transcript else None,
                     cwd=data.get("cwd") if isinstance(data.get("cwd"), str) else None, raw=data)
    if kind in (PRE, POST):
        name = data.get("tool_name")
        if not isinstance(name, str) or not name:
            raise HookInputError(f"the {event} input has no tool_name")
        hook.tool_name = name
        hook.tool_input = data.get("tool_input")
        call_id = data.get("tool_use_id")
        hook.tool_use_id = call_id if isinstance(call_id, str) and call_id else None
    return hook


def tool_arguments(hook: HookInput) -> Any:
    """The pending call's arguments as the readers put them on spans. Codex hands ``apply_patch`` its patch as
    ``{"command": "*** Begin Patch ..."}``: it is passed on as the patch it is."""
    arguments = hook.tool_input
    if hook.agent == CODEX and isinstance(arguments, Mapping):
        text = arguments.get("command")
        if isinstance(text, str) and "*** Begin Patch" in text:
            return {"input": text}
    return arguments
