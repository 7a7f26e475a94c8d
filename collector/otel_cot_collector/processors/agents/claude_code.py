"""Claude Code's OTLP log events → views.

Follows code.claude.com/docs/en/monitoring-usage ("Events"; revisions of April–June 2026, read from
stored copies) and anthropics/claude-code CHANGELOG.md. Every event carries the standard attributes
``session.id``, ``prompt.id``, ``event.name``, ``event.timestamp`` and ``event.sequence``; the body is the
prefixed name (``claude_code.tool_result``). Content is gated: ``prompt`` needs ``OTEL_LOG_USER_PROMPTS=1``
(otherwise ``<REDACTED>``), ``tool_parameters`` / ``tool_input`` need ``OTEL_LOG_TOOL_DETAILS=1``. Tool
output is never in a log event (only as span events of the beta traces with ``OTEL_LOG_TOOL_CONTENT=1``).
"""

from __future__ import annotations

from typing import Any

from otel_cot.detectors import SpanView

from ..log_views import LogRecordData
from .common import CodingEvent, attr, event_name, parse_json, truthy, views_of

AGENT = "claude_code"
_PREFIX = "claude_code."


def _name(data: LogRecordData) -> str | None:
    """The unprefixed event name when the record is Claude Code's, else None."""
    for candidate in (event_name(data), str(data.attributes.get("event.name", "")),
                      data.body if isinstance(data.body, str) else ""):
        if candidate.startswith(_PREFIX):
            return candidate[len(_PREFIX):]
    if data.resource.get("service.name") == "claude-code":
        return str(data.attributes.get("event.name", "")).removeprefix(_PREFIX) or None
    return None


def _arguments(attrs: dict[str, Any]) -> Any:
    """``tool_input`` (the tool's own arguments) over ``tool_parameters`` (Bash/MCP/Skill summaries)."""
    params = parse_json(attr(attrs, "tool_parameters"))
    tool_input = parse_json(attr(attrs, "tool_input"))
    if isinstance(params, dict) and isinstance(tool_input, dict):
        return {**params, **tool_input}
    return tool_input if tool_input is not None else params


def parse(data: LogRecordData) -> CodingEvent | None:
    name = _name(data)
    if name is None:
        return None
    attrs = data.attributes
    session = str(attr(attrs, "session.id") or data.resource.get("session.id") or data.trace_key)
    event = CodingEvent(AGENT, session, "other", prompt_id=attr(attrs, "prompt.id"))
    if name == "user_prompt":
        event.kind, event.text, event.location = "user_prompt", attr(attrs, "prompt"), "prompt"
    elif name == "tool_result":
        event.kind, event.tool = "tool", str(attr(attrs, "tool_name") or "")
        event.arguments = _arguments(attrs)
        event.call_id = attr(attrs, "tool_use_id")
        if truthy(attr(attrs, "success")) is False:
            event.error = str(attr(attrs, "error") or "failed")
        event.location = "tool_input" if "tool_input" in attrs else "tool_parameters"
    elif name == "assistant_response":  # OTEL_LOG_ASSISTANT_RESPONSES; attribute name not in the docs we read
        text = attr(attrs, "response", "content", "text")
        event.kind, event.text = "response", text if text is not None else (
            data.body if isinstance(data.body, str) and not data.body.startswith(_PREFIX) else None)
    return event


def map_record(data: LogRecordData) -> list[SpanView] | None:
    event = parse(data)
    return None if event is None else views_of(event, data)
