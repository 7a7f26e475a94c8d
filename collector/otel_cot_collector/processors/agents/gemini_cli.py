"""Gemini CLI's OTLP log events → views.

Follows google-gemini/gemini-cli ``docs/cli/telemetry.md`` (commit 04bcbc6, 2026): ``session.id`` on every
log; ``gemini_cli.user_prompt`` (``prompt`` unless ``telemetry.logPrompts`` is false), ``gemini_cli.tool_call``
(``function_name``, ``function_args``, ``success``, ``error``, ``prompt_id``), ``gemini_cli.api_response``
(``response_text``) and ``gen_ai.client.inference.operation.details`` (GenAI-convention messages, which is
where tool output appears: ``tool_call`` events carry none).
"""

from __future__ import annotations

from otel_cot.detectors import SpanRecord, SpanView, views_from_record
from otel_cot.detectors.base import KIND_REASONING, KIND_TOOL_RESULT

from ..log_views import LogRecordData
from .common import CodingEvent, attr, event_name, session_key, truthy, views_of

AGENT = "gemini_cli"
_PREFIX = "gemini_cli."
_DETAILS = "gen_ai.client.inference.operation.details"


def _name(data: LogRecordData) -> str:
    return event_name(data) or str(data.attributes.get("event.name", ""))


def parse(data: LogRecordData) -> CodingEvent | None:
    name = _name(data)
    if not name.startswith(_PREFIX):
        return None
    attrs = data.attributes
    session = str(attr(attrs, "session.id") or data.resource.get("session.id") or data.trace_key)
    event = CodingEvent(AGENT, session, "other", prompt_id=attr(attrs, "prompt_id"))
    kind = name[len(_PREFIX):]
    if kind == "user_prompt":
        event.kind, event.text, event.location = "user_prompt", attr(attrs, "prompt"), "prompt"
    elif kind == "tool_call":
        event.kind, event.tool = "tool", str(attr(attrs, "function_name") or "")
        event.arguments = attr(attrs, "function_args")
        if truthy(attr(attrs, "success")) is False:
            event.error = str(attr(attrs, "error") or "failed")
        event.location = "function_args"
    elif kind == "api_response":
        event.kind, event.text, event.location = "response", attr(attrs, "response_text"), "response_text"
    return event


def _details_views(data: LogRecordData) -> list[SpanView] | None:
    """Tool output (and any thoughts) from the GenAI-convention messages; calls and text come from the
    tool_call and api_response events, so they are not taken twice."""
    session = attr(data.attributes, "session.id")
    if not session:
        return None
    key = session_key(AGENT, str(session))
    record = SpanRecord(key, data.span_id, _DETAILS, data.attributes, data.time_ns, data.time_ns)
    return [v for v in views_from_record(record) if v.kind in (KIND_TOOL_RESULT, KIND_REASONING)]


def map_record(data: LogRecordData) -> list[SpanView] | None:
    if _name(data) == _DETAILS:
        return _details_views(data)
    event = parse(data)
    return None if event is None else views_of(event, data)
