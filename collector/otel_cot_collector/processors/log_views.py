"""Log records → detector views. The seam for coding-agent events (Claude Code, Codex, Gemini CLI emit
their tool calls as OTLP logs): a mapper turns one record into views, the first mapper that recognises a
record wins, and the generic fallback reads GenAI attributes, common tool-call attribute names and the body.
Agent-specific mappers register with :meth:`LogMappers.register`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from otel_cot import semconv
from otel_cot.detectors import SpanRecord, SpanView, views_from_record
from otel_cot.detectors.base import KIND_MODEL_CALL, KIND_TOOL_CALL, KIND_TOOL_RESULT

from .. import otlp

_GROUP_KEYS = ("session.id", "conversation.id", semconv.GEN_AI_CONVERSATION_ID)
_TOOL_NAME_KEYS = ("tool_name", "tool.name", "function_name", semconv.GEN_AI_TOOL_NAME)
_TOOL_ARGS_KEYS = ("tool_parameters", "tool_input", "arguments", "function_args", semconv.GEN_AI_TOOL_CALL_ARGUMENTS)
_TOOL_RESULT_KEYS = ("output", "tool_result", "result", semconv.GEN_AI_TOOL_CALL_RESULT)


@dataclass
class LogRecordData:
    """One log record as plain data, with the key that groups it with its session (for TraceContext)."""

    trace_key: str
    span_id: str
    event_name: str
    body: Any
    attributes: dict[str, Any]
    resource: Mapping[str, Any]
    time_ns: int


def log_record_data(record: Any, resource: Mapping[str, Any]) -> LogRecordData:
    attrs = otlp.attributes_of(record.attributes)
    key = record.trace_id.hex() if record.trace_id else ""
    if not key:
        for name in _GROUP_KEYS:
            value = attrs.get(name, resource.get(name))
            if value:
                key = f"{name}:{value}"
                break
    if not key:
        key = f"service:{resource.get('service.name', '')}"
    body = otlp.value_of(record.body) if record.HasField("body") else None
    name = getattr(record, "event_name", "") or str(attrs.get("event.name", ""))
    return LogRecordData(key, record.span_id.hex(), name, body, attrs, resource,
                         record.time_unix_nano or record.observed_time_unix_nano)


LogMapper = Callable[[LogRecordData], "list[SpanView] | None"]


def _first(attrs: Mapping[str, Any], keys: tuple[str, ...]) -> Any:
    for k in keys:
        if attrs.get(k) not in (None, ""):
            return attrs[k]
    return None


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, default=str, ensure_ascii=False)


def generic_views(data: LogRecordData) -> list[SpanView]:
    base = dict(trace_id=data.trace_key, span_id=data.span_id, span_name=data.event_name,
                start_time_ns=data.time_ns, end_time_ns=data.time_ns, attributes=data.attributes)
    record = SpanRecord(data.trace_key, data.span_id, data.event_name, data.attributes, data.time_ns, data.time_ns)
    views = list(views_from_record(record))
    if views:
        return views
    tool = _first(data.attributes, _TOOL_NAME_KEYS)
    args = _first(data.attributes, _TOOL_ARGS_KEYS)
    result = _first(data.attributes, _TOOL_RESULT_KEYS)
    if tool is not None and args is not None:
        views.append(SpanView(kind=KIND_TOOL_CALL, text=_text(args), tool=str(tool), arguments=_text(args),
                              location="log.attributes", **base))
    if tool is not None and result is not None:
        views.append(SpanView(kind=KIND_TOOL_RESULT, text=_text(result), tool=str(tool),
                              location="log.attributes", **base))
    if data.body not in (None, "") and not views:
        views.append(SpanView(kind=KIND_MODEL_CALL, text=_text(data.body)[:1_000_000], location="log.body", **base))
    return views


class LogMappers:
    def __init__(self) -> None:
        self._mappers: list[LogMapper] = []

    def register(self, mapper: LogMapper) -> None:
        """Try ``mapper`` before the ones registered earlier and before the generic fallback."""
        self._mappers.insert(0, mapper)

    def views(self, data: LogRecordData) -> list[SpanView]:
        for mapper in self._mappers:
            out = mapper(data)
            if out is not None:
                return out
        return generic_views(data)
