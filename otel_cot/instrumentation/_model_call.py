"""One model call: starts its span once, ends it exactly once, and emits its reasoning spans.

Provider modules turn SDK objects into the plain values below (pure functions, reading the SDK's
objects with :mod:`otel_cot.values`); this module is the only place that writes model-call and
reasoning spans (their content cleaned by :mod:`otel_cot.content`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Iterable

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode, Tracer

from .. import semconv as sc
from ..config import Settings
from ..content import ContentBudget, clean_value, static_json, to_json
from ..internal_errors import report_internal_error
from ..runtime import runtime
from . import guard_hooks

# Set in the context while an instrumented SDK method runs, so an SDK's own tracing can
# tell that otel-cot already owns this call's model-call span.
MODEL_CALL_ACTIVE_KEY = otel_context.create_key("otel_cot.model_call_active")
# A list an integration puts in the context while another SDK's own model-call span is open (the
# Agents SDK's response spans); each ModelCall started inside appends itself to it, so the
# integration knows the call already has its model-call span and does not emit a second one,
# and can finish a call whose raw response we did not read (see _wrappers._returned).
MODEL_CALL_OBSERVER_KEY = otel_context.create_key("otel_cot.model_call_observer")

Message = dict[str, Any]
"""A message in the GenAI semantic-convention shape: {"role", "parts": [...], "finish_reason"?}."""


@dataclass(slots=True)
class ReasoningBlock:
    text: str | None
    source: str
    redacted: bool = False
    start_ns: int | None = None
    end_ns: int | None = None
    parts: list[str] | None = None
    """When ``text`` is these parts joined with ``PARTS_SEPARATOR`` (and the parts are in the output messages)."""


PARTS_SEPARATOR = "\n\n"


@dataclass(slots=True)
class ModelResponse:
    response_id: str | None = None
    response_model: str | None = None
    finish_reasons: list[str] = field(default_factory=list)
    input_tokens: int | None = None
    output_tokens: int | None = None
    reasoning_tokens: int | None = None
    cache_read_tokens: int | None = None
    cache_creation_tokens: int | None = None
    output_messages: list[Message] = field(default_factory=list)
    reasoning: list[ReasoningBlock] = field(default_factory=list)


@dataclass(slots=True)
class ModelRequest:
    provider: str
    model: str | None
    attributes: dict[str, Any] = field(default_factory=dict)
    input_messages: list[Message] | None = None
    system_instructions: list[dict[str, Any]] | None = None
    tool_definitions: list[Any] | None = None
    stream: bool = False
    operation: str = sc.OPERATION_CHAT


class ModelCall:
    """The lifecycle of one model-call span: ``finish`` or ``fail`` ends it, once."""

    __slots__ = ("_tracer", "_settings", "_request", "span", "_start_ns", "_ended", "_first_chunk_ns", "_budget",
                 "_rootless")

    def __init__(self, tracer: Tracer, settings: Settings, request: ModelRequest, *,
                 start_ns: int | None = None) -> None:
        self._tracer = tracer
        self._settings = settings
        self._request = request
        self._ended = False
        self._first_chunk_ns: int | None = None
        self._budget = ContentBudget(settings)
        self._start_ns = start_ns or time.time_ns()
        self._rootless = not trace.get_current_span().get_span_context().is_valid
        attributes = {
            sc.GEN_AI_OPERATION_NAME: request.operation,
            sc.GEN_AI_PROVIDER_NAME: request.provider,
        }
        if request.model:
            attributes[sc.GEN_AI_REQUEST_MODEL] = request.model
        if request.stream:
            attributes[sc.GEN_AI_REQUEST_STREAM] = True
        attributes.update(request.attributes)
        if settings.capture_content:
            self._add_input_content(attributes)
        self.span = tracer.start_span(
            sc.model_span_name(request.operation, request.model),
            kind=SpanKind.CLIENT,
            attributes=attributes,
            start_time=self._start_ns,
        )
        observer = otel_context.get_value(MODEL_CALL_OBSERVER_KEY)
        if isinstance(observer, list):
            observer.append(self)

    def _add_input_content(self, attributes: dict[str, Any]) -> None:
        request, budget = self._request, self._budget
        if request.input_messages:
            attributes[sc.GEN_AI_INPUT_MESSAGES] = to_json(clean_value(request.input_messages, budget))
        if request.system_instructions:
            attributes[sc.GEN_AI_SYSTEM_INSTRUCTIONS] = static_json(request.system_instructions, budget)
        if request.tool_definitions:
            attributes[sc.GEN_AI_TOOL_DEFINITIONS] = static_json(request.tool_definitions, budget)

    # --- while the SDK method runs --------------------------------------------------
    def activate(self) -> object:
        ctx = trace.set_span_in_context(self.span)
        return otel_context.attach(otel_context.set_value(MODEL_CALL_ACTIVE_KEY, True, ctx))

    # --- streams ----------------------------------------------------------------------
    def first_chunk(self, now_ns: int) -> None:
        if self._first_chunk_ns is None:
            self._first_chunk_ns = now_ns

    # --- ending -----------------------------------------------------------------------
    @property
    def ended(self) -> bool:
        return self._ended

    def finish(self, response: ModelResponse | None, *, outcome: str | None = None,
               error: BaseException | None = None) -> None:
        """Write what the call returned and end the span; later calls are ignored."""
        if self._ended:
            return
        self._ended = True
        span = self.span
        end_ns = time.time_ns()
        try:
            attributes = self._response_attributes(response, end_ns) if response is not None else {}
            if self._first_chunk_ns is not None:
                attributes[sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] = (self._first_chunk_ns - self._start_ns) / 1e9
            if outcome is not None:
                attributes[sc.COT_STREAM_OUTCOME] = outcome
            budget = self._budget
            if budget.truncated:
                attributes[sc.COT_CONTENT_TRUNCATED] = True
            if budget.redacted:
                attributes[sc.COT_CONTENT_REDACTED_SECRETS] = budget.redacted
            if error is not None:
                attributes[sc.ERROR_TYPE] = type(error).__qualname__
            span.set_attributes(attributes)
            if error is not None:
                span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"[:1024]))
            if response is not None:
                self._observe(response)
        except Exception as exc:
            report_internal_error("model call finish", exc)
        finally:
            span.end(end_time=end_ns)

    def fail(self, error: BaseException, response: ModelResponse | None = None) -> None:
        self.finish(response, outcome="error" if response is not None else None, error=error)

    def _response_attributes(self, response: ModelResponse, end_ns: int) -> dict[str, Any]:
        """The span's attributes from the response; emits the reasoning spans (which may clean more text)."""
        attributes: dict[str, Any] = {}
        if response.response_id:
            attributes[sc.GEN_AI_RESPONSE_ID] = response.response_id
        if response.response_model:
            attributes[sc.GEN_AI_RESPONSE_MODEL] = response.response_model
        if response.finish_reasons:
            attributes[sc.GEN_AI_RESPONSE_FINISH_REASONS] = [str(r) for r in response.finish_reasons]
        for key, value in (
            (sc.GEN_AI_USAGE_INPUT_TOKENS, response.input_tokens),
            (sc.GEN_AI_USAGE_OUTPUT_TOKENS, response.output_tokens),
            (sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS, response.reasoning_tokens),
            (sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS, response.cache_read_tokens),
            (sc.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS, response.cache_creation_tokens),
        ):
            if isinstance(value, int) and not isinstance(value, bool):
                attributes[key] = value
        capture = self._settings.capture_content
        if capture and response.output_messages:
            attributes[sc.GEN_AI_OUTPUT_MESSAGES] = to_json(clean_value(response.output_messages, self._budget))
        if response.reasoning:
            attributes[sc.COT_REASONING_COUNT] = len(response.reasoning)
            self._emit_reasoning_spans(response.reasoning, end_ns)
        return attributes

    def _observe(self, response: ModelResponse) -> None:
        """Tool calls the model asked for (for tool spans to link to) and the runtime guard."""
        span = self.span
        calls = [(p.get("id"), p.get("name")) for m in response.output_messages for p in m.get("parts", ())
                 if p.get("type") == "tool_call" and not p.get("server")]
        if calls:
            runtime.pending.register(span.get_span_context(), self._rootless, calls)
        guard_hooks.observe_model_call(span, self._request.input_messages, response.output_messages)

    def _emit_reasoning_spans(self, blocks: Iterable[ReasoningBlock], end_ns: int) -> None:
        ctx = trace.set_span_in_context(self.span)
        model = self._request.model
        capture = self._settings.capture_content
        for index, block in enumerate(blocks):
            attributes: dict[str, Any] = {
                sc.COT_REASONING_SOURCE: block.source,
                sc.COT_REASONING_INDEX: index,
                sc.COT_REASONING_REDACTED: block.redacted,
                sc.GEN_AI_PROVIDER_NAME: self._request.provider,
            }
            truncated = False
            if block.text:
                attributes[sc.COT_REASONING_LENGTH] = len(block.text)
                if capture:
                    cleaned = (self._budget.clean_joined(block.parts, PARTS_SEPARATOR) if block.parts
                               else self._budget.clean(block.text))
                    attributes[sc.COT_REASONING_CONTENT] = cleaned.text
                    truncated = cleaned.truncated
            attributes[sc.COT_REASONING_TRUNCATED] = truncated
            start = block.start_ns or self._start_ns
            end = block.end_ns or end_ns
            span = self._tracer.start_span(
                sc.reasoning_span_name(model), context=ctx, kind=SpanKind.INTERNAL,
                attributes=attributes, start_time=start,
            )
            span.end(end_time=max(end, start))
