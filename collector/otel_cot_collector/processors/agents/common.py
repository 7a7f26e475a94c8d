"""What the three coding-agent mappers share: one event shape and the views.

Tool arguments are normalised by :mod:`otel_cot.coding_agents.tool_arguments` (shared with the session
readers of ``otel-cot watch``), so the detectors need no agent knowledge.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Mapping

from otel_cot.coding_agents.tool_arguments import normalise_tool, parse_json  # noqa: F401 (re-exported)
from otel_cot.detectors import SpanView
from otel_cot.detectors.base import KIND_MODEL_CALL, KIND_TOOL_CALL, KIND_TOOL_RESULT, KIND_USER

from ..log_views import LogRecordData

MAX_TEXT = 1_000_000  # same bound as span views
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
