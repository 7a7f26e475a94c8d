"""What the three coding-agent mappers share: one event shape, tool-argument normalisation and the views.

Each agent names its shell and edit tools differently and shapes their arguments differently (a command
string, an argv list, a patch). They are normalised here into the shapes the detectors already read
(``{"command": "<one shell line>"}``, ``{"file_path", "old_string", "new_string"}``), so the destructive-action,
secret and reward-hacking detectors need no agent knowledge.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from typing import Any, Mapping

from otel_cot.detectors import SpanView
from otel_cot.detectors.actions import SHELL_TOOLS
from otel_cot.detectors.base import KIND_MODEL_CALL, KIND_TOOL_CALL, KIND_TOOL_RESULT, KIND_USER

from ..log_views import LogRecordData

MAX_TEXT = 1_000_000  # same bound as span views
_SHELLS = {"bash", "sh", "zsh", "dash", "ksh", "/bin/bash", "/bin/sh", "/bin/zsh", "/usr/bin/bash"}
_REDACTED = {"", "<REDACTED>", "[REDACTED]", "REDACTED"}


@dataclass
class CodingEvent:
    """One coding-agent log record, in agent-neutral terms. ``kind``: tool, user_prompt, response."""

    agent: str
    session: str
    kind: str
    tool: str | None = None
    arguments: Any = None  # parsed JSON, or raw text when it is not JSON (a Codex freeform patch)
    result: str | None = None
    error: str | None = None
    text: str | None = None
    call_id: str | None = None
    prompt_id: str | None = None
    location: str = "log.attributes"


def event_name(data: LogRecordData) -> str:
    """The record's event name: the OTLP field, ``event.name``, or a string body (Claude Code sends both)."""
    if data.event_name:
        return data.event_name
    return data.body if isinstance(data.body, str) and len(data.body) < 100 else ""


def session_key(agent: str, session: str) -> str:
    """The detector-context key of a session (also the input of the derived trace id)."""
    return f"{agent}:{session}"


def parse_json(value: Any) -> Any:
    if isinstance(value, str):
        text = value.strip()
        if text[:1] in ("{", "["):
            try:
                return json.loads(text)
            except ValueError:
                return value
    return value


def text_of(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value[:MAX_TEXT]
    return json.dumps(value, ensure_ascii=False, default=str)[:MAX_TEXT]


def is_redacted(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip() in _REDACTED)


def truthy(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


def argv_to_command(argv: list[Any]) -> str:
    """``["bash", "-lc", "rm -rf x"]`` → ``rm -rf x``; any other argv → its shell-quoted join."""
    parts = [str(a) for a in argv]
    if len(parts) >= 3 and parts[0] in _SHELLS and parts[1] in ("-c", "-lc", "-cl"):
        return parts[2]
    return shlex.join(parts)


_PATCH_FILE = re.compile(r"^\*\*\* (Add|Update|Delete) File: (.+)$")


def patch_edits(patch: str) -> list[dict[str, str]]:
    """The files a Codex ``apply_patch`` envelope changes, as edit arguments (old/new text per file)."""
    edits: list[dict[str, str]] = []
    current: dict[str, Any] | None = None
    for line in patch.splitlines():
        m = _PATCH_FILE.match(line)
        if m:
            current = {"operation": m.group(1).lower(), "file_path": m.group(2).strip(), "old": [], "new": []}
            edits.append(current)
            continue
        if current is None or line.startswith(("*** ", "@@")):
            continue
        if line.startswith("-"):
            current["old"].append(line[1:])
        elif line.startswith("+"):
            current["new"].append(line[1:])
        elif line.startswith(" "):
            current["old"].append(line[1:])
            current["new"].append(line[1:])
    return [{"file_path": e["file_path"], "operation": e["operation"], "old_string": "\n".join(e["old"]),
             "new_string": "\n".join(e["new"])} for e in edits]


def normalise_tool(tool: str, arguments: Any) -> list[tuple[str, Any]]:
    """(tool, arguments) pairs the detectors understand. Several pairs when one patch edits several files."""
    args = parse_json(arguments)
    if isinstance(args, str) and "*** Begin Patch" in args:
        return [(tool, e) for e in patch_edits(args)] or [(tool, args)]
    if isinstance(args, dict):
        patch = args.get("input") or args.get("patch")
        if isinstance(patch, str) and "*** Begin Patch" in patch:
            return [(tool, e) for e in patch_edits(patch)] or [(tool, args)]
        command = args.get("command", args.get("cmd"))
        if isinstance(command, list):
            if command and str(command[0]) == "apply_patch" and len(command) > 1:
                return [("apply_patch", e) for e in patch_edits(str(command[1]))]
            args = {**args, "command": argv_to_command(command)}
            args.pop("cmd", None)
        elif isinstance(command, str) and "command" not in args:
            args = {**args, "command": command}
            args.pop("cmd", None)
        if "command" not in args and SHELL_TOOLS.match(tool):
            full = args.get("full_command") or args.get("bash_command")  # Claude Code's tool_parameters
            if isinstance(full, str):
                args = {**args, "command": full}
    return [(tool, args)]


def views_of(event: CodingEvent, data: LogRecordData) -> list[SpanView]:
    """The detector views of one event. Ids: the session key as trace id, the record's position as span."""
    key = session_key(event.agent, event.session)
    span_name = f"execute_tool {event.tool}" if event.kind == "tool" else event_name(data)
    base: dict[str, Any] = dict(trace_id=key, span_id=data.span_id, span_name=span_name,
                                start_time_ns=data.time_ns, end_time_ns=data.time_ns,
                                attributes=data.attributes, location=event.location)
    views: list[SpanView] = []
    if event.kind == "tool" and event.tool:
        if event.arguments is not None:
            for tool, args in normalise_tool(event.tool, event.arguments):
                text = text_of(args)
                views.append(SpanView(kind=KIND_TOOL_CALL, text=text, tool=tool, arguments=text,
                                      tool_call_id=event.call_id, **base))
        if event.result or event.error:
            views.append(SpanView(kind=KIND_TOOL_RESULT, text=text_of(event.result or event.error),
                                  tool=event.tool, tool_call_id=event.call_id, error=event.error, **base))
    elif event.kind == "user_prompt" and not is_redacted(event.text):
        views.append(SpanView(kind=KIND_USER, text=text_of(event.text), **base))
    elif event.kind == "response" and not is_redacted(event.text):
        views.append(SpanView(kind=KIND_MODEL_CALL, text=text_of(event.text), **base))
    return views


def attr(attrs: Mapping[str, Any], *names: str) -> Any:
    for name in names:
        value = attrs.get(name)
        if value not in (None, ""):
            return value
    return None
