"""Findings on coding-agent log records as spans, so they show in trace-only backends (Jaeger) per session.

The trace id is the first 16 bytes of SHA-256 of ``"{agent}:{session id}"``: every collector instance
and every redelivery puts a session's spans in the same trace without shared state. The span id is
derived the same way from the record (session, time, event, tool call id), so a redelivered record
yields the same span. Each span ends at the record's time and starts ``duration_ms`` earlier when the
event reports one; spans are siblings with no parent (the session has no span of its own to end).
"""

from __future__ import annotations

import hashlib
import time
from datetime import datetime
from typing import Any, Sequence

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from otel_cot import semconv
from otel_cot.config import Settings
from otel_cot.content import clean
from otel_cot.detectors import Finding, SpanView
from otel_cot.detectors.annotate import event_time, finding_event_attributes, span_attributes
from otel_cot.detectors.base import KIND_MODEL_CALL, KIND_TOOL_CALL, KIND_TOOL_RESULT, KIND_USER

from ... import otlp
from ..log_views import LogRecordData

MODES = ("none", "flagged", "all")
SCOPE = "otel_cot_collector.coding_agents"
_AGENTS = ("claude_code", "codex", "gemini_cli")
_MAX_ATTR = 8192  # per content attribute on the emitted span: the log record keeps the full text
# Content we put on a span is redacted like the SDK's: a secret the agent pasted must not reach the backend
# through the finding that reports it. (The log record itself is forwarded as the agent sent it.)
_CONTENT = Settings(max_content_length=_MAX_ATTR)


def _content(text: str) -> str:
    return clean(text, _CONTENT).text


def trace_id_for(agent: str, session: str) -> bytes:
    return hashlib.sha256(f"{agent}:{session}".encode()).digest()[:16]


def _span_id(key: str, data: LogRecordData, call_id: str | None) -> bytes:
    seed = f"{key}|{data.time_ns}|{data.event_name}|{call_id or ''}|{data.attributes.get('event.sequence', '')}"
    sid = hashlib.sha256(seed.encode()).digest()[:8]
    return sid if any(sid) else b"\x00" * 7 + b"\x01"


def _end_ns(data: LogRecordData) -> int:
    if data.time_ns:
        return data.time_ns
    stamp = data.attributes.get("event.timestamp")  # Codex may leave timeUnixNano at 0
    if isinstance(stamp, str):
        try:
            return int(datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp() * 1e9)
        except ValueError:
            pass
    return time.time_ns()


def _duration_ns(attrs: dict[str, Any]) -> int:
    try:
        return max(0, int(float(attrs.get("duration_ms", 0)) * 1_000_000))
    except (TypeError, ValueError):
        return 0


def _name_and_attributes(agent: str, session: str, data: LogRecordData,
                         views: Sequence[SpanView]) -> tuple[str, dict[str, Any]]:
    attrs: dict[str, Any] = {semconv.GEN_AI_AGENT_NAME: agent, semconv.GEN_AI_CONVERSATION_ID: session,
                             semconv.COT_AGENT_EVENT: data.event_name or str(data.attributes.get("event.name", ""))}
    for key in ("prompt.id", "prompt_id", "turn.id"):
        if data.attributes.get(key):
            attrs[semconv.COT_AGENT_PROMPT_ID] = str(data.attributes[key])
    name = views[0].span_name or attrs[semconv.COT_AGENT_EVENT]
    for view in views:
        if view.kind == KIND_TOOL_CALL:
            attrs[semconv.GEN_AI_OPERATION_NAME] = "execute_tool"
            attrs[semconv.GEN_AI_TOOL_NAME] = view.tool or ""
            attrs[semconv.GEN_AI_TOOL_CALL_ARGUMENTS] = _content(view.text)
            if view.tool_call_id:
                attrs[semconv.GEN_AI_TOOL_CALL_ID] = view.tool_call_id
        elif view.kind == KIND_TOOL_RESULT:
            attrs[semconv.GEN_AI_TOOL_CALL_RESULT] = _content(view.text)
            if view.error:
                attrs[semconv.ERROR_TYPE] = "tool_error"
        elif view.kind == KIND_USER:
            attrs[semconv.COT_AGENT_USER_PROMPT] = _content(view.text)
        elif view.kind == KIND_MODEL_CALL:
            attrs[semconv.COT_AGENT_OUTPUT_TEXT] = _content(view.text)
            model = data.attributes.get("model")
            attrs[semconv.GEN_AI_OPERATION_NAME] = "chat"
            name = f"chat {model or agent}"
    return name, attrs


class LogSpans:
    """Collects spans for coding-agent records judged in one request; ``take`` returns them serialised."""

    def __init__(self, mode: str = "flagged") -> None:
        if mode not in MODES:
            raise ValueError(f"log span mode must be one of {MODES}, not {mode!r}")
        self.mode = mode
        self._request = ExportTraceServiceRequest()
        self._scopes: dict[int, Any] = {}
        self.count = 0

    def add(self, data: LogRecordData, views: Sequence[SpanView], findings: Sequence[Finding]) -> None:
        if self.mode == "none" or not views or (self.mode == "flagged" and not findings):
            return
        agent, _, session = views[0].trace_id.partition(":")
        if agent not in _AGENTS or not session:
            return  # generic log records stay logs
        name, attrs = _name_and_attributes(agent, session, data, views)
        end = _end_ns(data)
        start = end - _duration_ns(data.attributes)
        call_id = next((v.tool_call_id for v in views if v.tool_call_id), None)
        span = self._scope(data).spans.add(trace_id=trace_id_for(agent, session),
                                           span_id=_span_id(views[0].trace_id, data, call_id),
                                           name=name[:256], kind=1, start_time_unix_nano=start,
                                           end_time_unix_nano=end)
        if findings:
            attrs.update(span_attributes(findings))
            for f in findings:
                span.events.add(name=semconv.GEN_AI_EVALUATION_RESULT_EVENT, time_unix_nano=event_time(start, end),
                                attributes=otlp.key_values(finding_event_attributes(f)))
        otlp.put_attributes(span.attributes, attrs)
        self.count += 1

    def _scope(self, data: LogRecordData) -> Any:
        key = id(data.resource)
        scope = self._scopes.get(key)
        if scope is None:
            rs = self._request.resource_spans.add()
            otlp.put_attributes(rs.resource.attributes, dict(data.resource))
            scope = rs.scope_spans.add()
            scope.scope.name = SCOPE
            self._scopes[key] = scope
        return scope

    def take(self) -> bytes | None:
        """The spans collected since the last call, as one ExportTraceServiceRequest (None when empty)."""
        if not self.count:
            return None
        data = self._request.SerializeToString()
        self._request, self._scopes, self.count = ExportTraceServiceRequest(), {}, 0
        return data
