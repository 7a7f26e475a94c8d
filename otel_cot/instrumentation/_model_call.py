"""One model call: starts its span once, ends it exactly once, and emits its reasoning spans.

Provider modules turn SDK objects into the plain values below (pure functions); this module
is the only place that writes model-call and reasoning spans.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode, Tracer

from .. import semconv as sc
from .._guard import report_internal_error
from ..config import Settings
from ..content import ContentBudget
from ..guard import integrations as guard
from . import _pending as pending

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


# Message and schema fields that name things rather than carry content: not scanned for secrets.
_STRUCTURAL_KEYS = frozenset({"type", "role", "id", "name", "finish_reason", "modality", "call_id", "tool_use_id"})
_STRUCTURAL_MAX = 256


_SCALARS = frozenset({int, float, bool, type(None)})


def _clean_value(value: Any, budget: ContentBudget, depth: int = 0) -> Any:
    """A JSON-able copy of ``value`` with every string cleaned (redacted, truncated).

    Plain ``str`` / ``dict`` / ``list`` values (what the extractors build) are handled inline and
    copied only where a string changed: with nothing to redact or cut, the value itself comes back
    (it is only serialised, never kept or changed). Anything else (subclasses, tuples, SDK objects)
    takes the generic path, which always copies.
    """
    kind = type(value)
    if kind is str:
        return budget.text(value)
    if kind in _SCALARS:
        return value
    if depth > 8:
        return budget.text(value) if isinstance(value, str) else value
    if kind is dict:
        out = None
        text = budget.text
        for k, v in value.items():
            kv = type(v)
            if kv is str:
                if k in _STRUCTURAL_KEYS and len(v) <= _STRUCTURAL_MAX:
                    continue
                cleaned = text(v)
            elif kv in _SCALARS:
                continue
            else:
                cleaned = _clean_value(v, budget, depth + 1)
            if cleaned is not v:
                if out is None:
                    out = dict(value)
                out[k] = cleaned
        return value if out is None else out
    if kind is list:
        out_list = None
        text = budget.text
        for i, v in enumerate(value):
            kv = type(v)
            if kv is str:
                cleaned = text(v)
            elif kv in _SCALARS:
                continue
            else:
                cleaned = _clean_value(v, budget, depth + 1)
            if cleaned is not v:
                if out_list is None:
                    out_list = list(value)
                out_list[i] = cleaned
        return value if out_list is None else out_list
    return _clean_value_generic(value, budget, depth)


def _clean_value_generic(value: Any, budget: ContentBudget, depth: int) -> Any:
    if isinstance(value, str):
        return budget(value)
    if value is None or isinstance(value, (bool, int, float)) or depth > 8:
        return value
    if isinstance(value, dict):
        return {k: v if k in _STRUCTURAL_KEYS and type(v) is str and len(v) <= _STRUCTURAL_MAX
                else _clean_value(v, budget, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean_value(v, budget, depth + 1) for v in value]
    return _clean_value(plain(value), budget, depth + 1)


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=str)


def _to_json(value: Any) -> str:
    # json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str), without building the encoder per call
    return _ENCODER.encode(value)


# Tool definitions and system instructions: an agent sends the same ones with every call, and they
# can be large (tens of KB of tool schemas), so their cleaned JSON is kept across calls. The key is
# the value's own JSON from a strict encoder (plain JSON types only; anything else is cleaned as
# usual), which fixes everything the cleaning depends on: each string, each key, the structure.
_RAW_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_STATIC: dict[tuple[str, int, bool], tuple[str, bool, int]] = {}
_STATIC_MAX_ENTRIES = 64
_STATIC_MAX_CHARS = 1 << 20


def _static_json(value: Any, budget: ContentBudget) -> str:
    """``_to_json(_clean_value(value, budget))``, remembered across calls for the same value and settings."""
    try:
        raw = _RAW_ENCODER.encode(value)
    except (TypeError, ValueError):  # SDK objects, circular data: no key
        return _to_json(_clean_value(value, budget))
    settings = budget.settings
    key = (raw, settings.max_content_length, settings.redact_secrets)
    hit = _STATIC.get(key)
    if hit is None:
        truncated, redacted = budget.truncated, budget.redacted
        budget.truncated, budget.redacted = False, 0
        try:
            text = _to_json(_clean_value(value, budget))
            hit = (text, budget.truncated, budget.redacted)
        finally:
            budget.truncated |= truncated
            budget.redacted += redacted
        if len(raw) <= _STATIC_MAX_CHARS:
            if len(_STATIC) >= _STATIC_MAX_ENTRIES:
                _STATIC.clear()
            _STATIC[key] = hit
        return hit[0]
    budget.truncated |= hit[1]
    budget.redacted += hit[2]
    return hit[0]


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
            attributes[sc.GEN_AI_INPUT_MESSAGES] = _to_json(_clean_value(request.input_messages, budget))
        if request.system_instructions:
            attributes[sc.GEN_AI_SYSTEM_INSTRUCTIONS] = _static_json(request.system_instructions, budget)
        if request.tool_definitions:
            attributes[sc.GEN_AI_TOOL_DEFINITIONS] = _static_json(request.tool_definitions, budget)

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
            attributes[sc.GEN_AI_OUTPUT_MESSAGES] = _to_json(_clean_value(response.output_messages, self._budget))
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
            pending.register(span.get_span_context(), self._rootless, calls)
        guard.observe_model_call(span, self._request.input_messages, response.output_messages)

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
                    cleaned = self._budget.clean(block.text)
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


_MISSING = object()

# Per pydantic model class: field name -> whether ``getattr`` on an instance reduces to a look-up in
# the instance ``__dict__`` then ``__pydantic_extra__`` (no class attribute, private attribute or
# custom attribute hook of that name). None: the class is not such a model (read with getattr).
_DIRECT: dict[type, dict[str, bool] | None] = {}


def _model_names(cls: type) -> dict[str, bool] | None:
    names: dict[str, bool] | None = None
    try:
        from pydantic import BaseModel

        if (issubclass(cls, BaseModel) and not issubclass(cls, Mapping)
                and cls.__getattr__ is BaseModel.__getattr__  # type: ignore[attr-defined]
                and cls.__getattribute__ is object.__getattribute__):
            names = {}
    except Exception:  # pydantic missing or an unusual class: the generic path
        names = None
    if len(_DIRECT) < 4096:
        _DIRECT[cls] = names
    return names


def _direct(cls: type, name: str) -> bool:
    if name.startswith("_") or name in (getattr(cls, "__private_attributes__", None) or ()):
        return False
    return not any(name in vars(base) for base in cls.__mro__)


def get(obj: Any, name: str, default: Any = None) -> Any:
    """A field of an SDK object or of the plain dict a user passed in its place.

    Same result as ``getattr(obj, name)`` falling back to ``obj.get(name)`` for mappings; for
    pydantic models (every SDK object) a missing field is answered without pydantic's
    ``__getattr__`` raising an AttributeError, which is most of the cost of a look-up.
    """
    if obj is None:
        return default
    cls = type(obj)
    if cls is dict:
        return obj.get(name, default)
    names = _DIRECT[cls] if cls in _DIRECT else _model_names(cls)
    if names is not None:
        direct = names.get(name)
        if direct is None:
            direct = names[name] = _direct(cls, name)
        if direct:
            value = obj.__dict__.get(name, _MISSING)
            if value is not _MISSING:
                return value
            extra = getattr(obj, "__pydantic_extra__", None)
            if extra:
                return extra.get(name, default)
            return default
    value = getattr(obj, name, _MISSING)
    if value is not _MISSING:
        return value
    return obj.get(name, default) if isinstance(obj, Mapping) else default


def absent(obj: Any, names: tuple[str, ...]) -> bool:
    """True when ``get(obj, name)`` would give the default for every one of ``names``, told in one step for
    pydantic models (no look-up through pydantic per name); False when that cannot be told this way."""
    cls = type(obj)
    info = _DIRECT[cls] if cls in _DIRECT else _model_names(cls)
    if info is None:
        return False
    for name in names:
        direct = info.get(name)
        if direct is None:
            direct = info[name] = _direct(cls, name)
        if not direct:
            return False
    values = obj.__dict__
    extra = getattr(obj, "__pydantic_extra__", None)
    for name in names:
        if name in values or (extra and name in extra):
            return False
    return True


# Classes whose instances are not mappings: for them ``getattr(obj, name, default)`` is exactly ``get``.
_OBJECT_CLASSES: dict[type, bool] = {type(None): True}


def reader(obj: Any) -> Any:
    """The cheapest exact way to read fields of ``obj``: ``getattr`` unless ``obj`` is a mapping (then ``get``).

    Call as ``reader(obj)(obj, name, None)``. Use it for fields the SDK type declares (present on
    its objects); fields that are often missing (provider extras) are cheaper through ``get``.
    """
    cls = type(obj)
    plain_object = _OBJECT_CLASSES.get(cls)
    if plain_object is None:
        plain_object = not issubclass(cls, Mapping)
        if len(_OBJECT_CLASSES) < 4096:
            _OBJECT_CLASSES[cls] = plain_object
    return getattr if plain_object else get


def numbers(pairs: Iterable[tuple[str, Any]]) -> dict[str, Any]:
    """The (attribute, value) pairs whose value is a real number (bools and None left out)."""
    return {key: value for key, value in pairs
            if isinstance(value, (int, float)) and not isinstance(value, bool)}


def as_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def text_part(text: str) -> dict[str, Any]:
    return {"type": "text", "content": text}


def reasoning_part(text: str) -> dict[str, Any]:
    return {"type": "reasoning", "content": text}


def tool_call_part(call_id: Any, name: Any, arguments: Any) -> dict[str, Any]:
    part: dict[str, Any] = {"type": "tool_call", "name": name}
    if call_id is not None:
        part["id"] = call_id
    if arguments is not None:
        part["arguments"] = parse_arguments(arguments)
    return part


def tool_response_part(call_id: Any, response: Any) -> dict[str, Any]:
    part: dict[str, Any] = {"type": "tool_call_response", "response": response}
    if call_id is not None:
        part["id"] = call_id
    return part


def parse_arguments(arguments: Any) -> Any:
    """Tool arguments arrive as JSON text; keep them structured when they parse."""
    if isinstance(arguments, str):
        try:
            return json.loads(arguments)
        except ValueError:
            return arguments
    return arguments


def plain(value: Any) -> Any:
    """A JSON-able copy of an SDK object (pydantic model) or of plain data."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        try:
            # SDK unions can make pydantic warn while serialising; the caller must never see that.
            return dump(mode="json", exclude_none=True, warnings=False)
        except TypeError:
            return dump(mode="json", exclude_none=True)
    return str(value)
