"""OpenAI Codex CLI's OTLP log events → views.

Follows openai/codex ``codex-rs/otel/src/events/session_telemetry.rs`` (user_prompt, tool_decision,
tool_result), ``codex-rs/otel/src/events/shared/log.rs`` (the attributes on every event, among them
``conversation.id`` and ``event.timestamp``) and ``codex-rs/otel/src/agent_response.rs`` (opt-in
``codex.agent_response``), as stored in mid-2026. ``codex.tool_result`` carries ``arguments`` and
``output`` by default; ``prompt`` is ``[REDACTED]`` unless ``[otel] log_user_prompt = true``.
"""

from __future__ import annotations

from otel_cot.detectors import SpanView

from ..log_views import LogRecordData
from .common import CodingEvent, attr, event_name, truthy, views_of

AGENT = "codex"
_PREFIX = "codex."


def parse(data: LogRecordData) -> CodingEvent | None:
    name = event_name(data) or str(data.attributes.get("event.name", ""))
    if not name.startswith(_PREFIX):
        return None
    attrs = data.attributes
    session = str(attr(attrs, "conversation.id") or data.trace_key)
    event = CodingEvent(AGENT, session, "other", prompt_id=attr(attrs, "turn.id"))
    kind = name[len(_PREFIX):]
    if kind == "user_prompt":
        event.kind, event.text, event.location = "user_prompt", attr(attrs, "prompt"), "prompt"
    elif kind == "tool_result":
        event.kind, event.tool = "tool", str(attr(attrs, "tool_name") or "")
        event.arguments = attr(attrs, "arguments")
        event.result = attr(attrs, "output")
        event.call_id = attr(attrs, "call_id")
        if truthy(attr(attrs, "success")) is False:
            event.error = str(event.result or "failed")[:512]
        event.location = "arguments"
    elif kind == "agent_response":
        event.kind, event.text, event.location = "response", attr(attrs, "response"), "response"
    return event


def map_record(data: LogRecordData) -> list[SpanView] | None:
    event = parse(data)
    return None if event is None else views_of(event, data)
