"""A tracing processor that turns the Agents SDK's traces and spans into otel-cot spans.

    SDK trace                  -> invoke_workflow {workflow}   the root; gen_ai.conversation.id = group_id
    agent span                 -> invoke_agent {agent}         AgentRun
    function span              -> execute_tool {tool}          ToolCall: arguments, result, error, call id
    response / generation span -> nothing when an otel-cot model-call span was made inside it (the OpenAI
                                  instrumentor's chat span with its reasoning children); else chat {model}
                                  from the SDK's record. A raw streamed response the instrumentor did not
                                  read (with_streaming_response) keeps its span, filled from that record.
    handoff span               -> a cot.agent.handoff event on the agent span that handed off
    any other span             -> none of ours; its children attach to the nearest span we made

Parents come from the SDK's own span tree. So that spans made by other instrumentation (our
OpenAI chat spans, @otel_cot.tool, HTTP clients) nest under the right agent or tool, the OTel
context follows the SDK's span stack: the SDK calls on_span_start just before it makes a span
current and on_span_end just before it restores the previous one, in the same task, so we
attach there and detach there. A detach happens only in the task or thread that attached, and
only while our context is still in the current chain; anything else (an async generator
finalised from another task, spans ended out of order) is skipped rather than corrupting the
context of whatever runs now.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from agents.tracing import (
    AgentSpanData,
    FunctionSpanData,
    GenerationSpanData,
    HandoffSpanData,
    ResponseSpanData,
    TracingProcessor,
)
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer

from ... import semconv as sc
from ...config import Settings
from ...internal_errors import report_internal_error
from .._model_call import MODEL_CALL_OBSERVER_KEY, ModelCall
from ..tools import AgentRun, ToolCall
from . import models

_ACTIVE_KEY = otel_context.create_key("otel_cot.agents_sdk_span")
MAX_OPEN = 10_000
"""Open SDK spans remembered at once; beyond that the oldest are forgotten (their spans never end)."""


@dataclass(eq=False, slots=True)
class _Open:
    kind: str
    context: Context
    """The context this SDK span's children are parented with."""
    span: Span | None = None
    run: AgentRun | ToolCall | None = None
    conversation_id: str | None = None
    observer: list[Any] | None = None
    start_ns: int = 0
    token: object | None = None
    owner: object = None
    prev: "_Open | None" = None


def _owner() -> object:
    try:
        task = asyncio.current_task()
    except RuntimeError:
        task = None
    return task if task is not None else threading.get_ident()


@contextmanager
def _within(ctx: Context) -> Iterator[None]:
    token = otel_context.attach(ctx)
    try:
        yield
    finally:
        otel_context.detach(token)


def _error_text(error: Any) -> str:
    message = str(error.get("message") or "error") if isinstance(error, dict) else str(error)
    detail = (error.get("data") or {}).get("error") if isinstance(error, dict) else None
    return (f"{message}: {detail}" if detail else message)[:1024]


def _mark_error(span: Span, error: Any, error_type: str) -> None:
    span.set_attribute(sc.ERROR_TYPE, error_type)
    span.set_status(Status(StatusCode.ERROR, _error_text(error)))


class CotTracingProcessor(TracingProcessor):  # type: ignore[misc]
    """Registered with ``agents.add_trace_processor`` by ``OpenAIAgentsInstrumentor``."""

    def __init__(self, tracer: Tracer, settings: Settings) -> None:
        self._tracer = tracer
        self._settings = settings
        self._lock = threading.Lock()
        self._open: OrderedDict[tuple[str, str], _Open] = OrderedDict()
        self.enabled = True

    # --- TracingProcessor ------------------------------------------------------------
    def on_trace_start(self, sdk_trace: Any) -> None:
        self._guarded("agents trace start", self._trace_start, sdk_trace)

    def on_trace_end(self, sdk_trace: Any) -> None:
        self._guarded("agents trace end", self._trace_end, sdk_trace)

    def on_span_start(self, span: Any) -> None:
        self._guarded("agents span start", self._span_start, span)

    def on_span_end(self, span: Any) -> None:
        self._guarded("agents span end", self._span_end, span)

    def shutdown(self) -> None:
        pass  # our spans belong to the OpenTelemetry provider, which flushes and shuts down itself

    def force_flush(self) -> None:
        pass

    def _guarded(self, where: str, handler: Callable[[Any], None], item: Any) -> None:
        if not self.enabled:
            return
        try:
            handler(item)
        except Exception as exc:
            report_internal_error(where, exc)

    # --- bookkeeping -------------------------------------------------------------------
    def _remember(self, key: tuple[str, str], record: _Open) -> None:
        with self._lock:
            self._open[key] = record
            while len(self._open) > MAX_OPEN:
                self._open.popitem(last=False)

    def _forget(self, key: tuple[str, str]) -> _Open | None:
        with self._lock:
            return self._open.pop(key, None)

    def _parent(self, span: Any) -> tuple[Context, str | None]:
        """The context to parent ``span``'s counterpart with, and the trace's conversation id."""
        with self._lock:
            workflow = self._open.get(("trace", span.trace_id))
            parent = self._open.get(("span", span.parent_id)) if span.parent_id else None
        conversation_id = workflow.conversation_id if workflow is not None else None
        record = parent or workflow
        return (record.context if record is not None else otel_context.get_current()), conversation_id

    @staticmethod
    def _attach(record: _Open, ctx: Context) -> None:
        record.prev = otel_context.get_value(_ACTIVE_KEY)  # type: ignore[assignment]
        record.owner = _owner()
        record.token = otel_context.attach(otel_context.set_value(_ACTIVE_KEY, record, ctx))

    @staticmethod
    def _detach(record: _Open) -> None:
        token, record.token = record.token, None
        if token is None or record.owner != _owner():
            return
        active = otel_context.get_value(_ACTIVE_KEY)
        while active is not None and active is not record:
            active = active.prev  # type: ignore[attr-defined]
        if active is record:
            otel_context.detach(token)  # type: ignore[arg-type]

    # --- traces --------------------------------------------------------------------------
    def _trace_start(self, sdk_trace: Any) -> None:
        name = getattr(sdk_trace, "name", None) or "Agent workflow"
        group_id = getattr(sdk_trace, "group_id", None)
        attributes: dict[str, Any] = {sc.GEN_AI_OPERATION_NAME: sc.OPERATION_INVOKE_WORKFLOW,
                                      sc.GEN_AI_WORKFLOW_NAME: name}
        if isinstance(group_id, str) and group_id:
            attributes[sc.GEN_AI_CONVERSATION_ID] = group_id
        span = self._tracer.start_span(f"{sc.OPERATION_INVOKE_WORKFLOW} {name}", kind=SpanKind.INTERNAL,
                                       attributes=attributes)
        record = _Open("workflow", trace.set_span_in_context(span), span=span,
                       conversation_id=attributes.get(sc.GEN_AI_CONVERSATION_ID))
        self._remember(("trace", sdk_trace.trace_id), record)
        self._attach(record, trace.set_span_in_context(span))

    def _trace_end(self, sdk_trace: Any) -> None:
        record = self._forget(("trace", sdk_trace.trace_id))
        if record is None:
            return
        self._detach(record)
        if record.span is not None:
            record.span.end()

    # --- spans ---------------------------------------------------------------------------
    def _span_start(self, span: Any) -> None:
        data = span.span_data
        parent, conversation_id = self._parent(span)
        if isinstance(data, AgentSpanData):
            run = AgentRun(data.name, conversation_id=conversation_id, tracer=self._tracer, parent=parent)
            record = _Open("agent", trace.set_span_in_context(run.span, parent), span=run.span, run=run)
            self._attach(record, trace.set_span_in_context(run.span))
        elif isinstance(data, FunctionSpanData):
            with _within(parent):  # the call id is claimed from the model call in the current trace
                call = ToolCall(data.name, tracer=self._tracer, settings=self._settings, parent=parent)
            record = _Open("tool", trace.set_span_in_context(call.span, parent), span=call.span, run=call)
            self._attach(record, trace.set_span_in_context(call.span))
        elif isinstance(data, (ResponseSpanData, GenerationSpanData)):
            record = _Open("model", parent, observer=[], start_ns=time.time_ns())
            self._attach(record, otel_context.set_value(MODEL_CALL_OBSERVER_KEY, record.observer))
        else:  # handoffs, turns, tasks, guardrails, custom spans...: no span of ours
            record = _Open("handoff" if isinstance(data, HandoffSpanData) else "other", parent)
        self._remember(("span", span.span_id), record)

    def _span_end(self, span: Any) -> None:
        record = self._forget(("span", span.span_id))
        if record is None:
            return
        self._detach(record)
        data, error = span.span_data, span.error
        if record.kind == "agent" and isinstance(record.run, AgentRun):
            try:
                if error:
                    _mark_error(record.run.span, error, "agent_error")
            finally:
                record.run.end()
        elif record.kind == "tool" and isinstance(record.run, ToolCall):
            self._end_tool(record.run, data, error)
        elif record.kind == "model":
            self._end_model(record, data, error)
        elif record.kind == "handoff":
            self._handoff(record, data, error)

    @staticmethod
    def _end_tool(call: ToolCall, data: Any, error: Any) -> None:
        try:
            call.set_arguments(getattr(data, "input", None))
            if getattr(data, "mcp_data", None):
                call.span.set_attribute(sc.GEN_AI_TOOL_TYPE, "mcp")
            if error:
                _mark_error(call.span, error, "tool_error")
        finally:
            call.finish(getattr(data, "output", None))

    def _end_model(self, record: _Open, data: Any, error: Any) -> None:
        observed = [c for c in record.observer or () if isinstance(c, ModelCall)]
        unread = [c for c in observed if not c.ended]
        if observed and not unread:
            return  # the instrumented client's span is complete: it is the one model-call span
        request, response = (models.from_response_span(data) if isinstance(data, ResponseSpanData)
                             else models.from_generation_span(data))
        if not observed:  # no otel-cot span was made inside: write it from what the SDK recorded
            with _within(record.context):
                unread = [ModelCall(self._tracer, self._settings, request, start_ns=record.start_ns)]
        # Also a raw (streamed) response the OpenAI instrumentor left to us: what the SDK read from it.
        for call in unread[:-1]:
            call.finish(None)
        if error:
            _mark_error(unread[-1].span, error, "model_error")
        unread[-1].finish(response)

    def close(self) -> None:
        """Stop mapping; end the model calls still waiting for their SDK span (they would never end)."""
        self.enabled = False
        with self._lock:
            records = list(self._open.values())
            self._open.clear()
        for record in records:
            for call in record.observer or ():
                if isinstance(call, ModelCall) and not call.ended:
                    call.finish(None)

    @staticmethod
    def _handoff(record: _Open, data: Any, error: Any) -> None:
        agent_span = trace.get_current_span(record.context)
        if not agent_span.is_recording():
            return
        attributes: dict[str, Any] = {}
        if getattr(data, "from_agent", None):
            attributes[sc.COT_HANDOFF_FROM_AGENT] = data.from_agent
        if getattr(data, "to_agent", None):
            attributes[sc.COT_HANDOFF_TO_AGENT] = data.to_agent
        if error:
            attributes[sc.ERROR_TYPE] = "handoff_error"
        agent_span.add_event(sc.COT_AGENT_HANDOFF_EVENT, attributes)
