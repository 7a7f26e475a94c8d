"""Turn a span (as plain data) into the views detectors judge.

``SpanRecord`` is the engine's only input type: ids as lowercase hex, times in ns since the epoch and a
flat attribute mapping. Adapters build it from SDK spans (:mod:`.exporter`), OTLP JSON and Jaeger JSON
(:mod:`.traces`) and labelled trajectories (:mod:`otel_cot.eval`).

Which views a span yields, by its attributes (names from :mod:`otel_cot.semconv`):

- ``cot.reasoning.content`` (a ``reasoning {model}`` span): one ``reasoning`` view;
- ``gen_ai.output.messages`` (a ``chat {model}`` span): a ``reasoning`` view per reasoning part, a
  ``model_call`` view per text part and a ``tool_call`` view per tool call the model asked for;
- ``gen_ai.input.messages``: the input that is new in this call (the messages after the last assistant
  message): ``user`` views for user text and ``tool_result`` views for tool-call responses;
- ``gen_ai.tool.call.arguments`` / ``gen_ai.tool.call.result`` (an ``execute_tool {tool}`` span): a
  ``tool_call`` and a ``tool_result`` view.

The same reasoning or tool call can appear on two spans (a reasoning span and its parent's output
messages; a model's tool-call part and the ``execute_tool`` span that ran it). ``dedupe_key`` gives the
engine a key to judge each once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping

from otel_cot import native, semconv

from .base import (
    KIND_MODEL_CALL,
    KIND_REASONING,
    KIND_SYSTEM,
    KIND_TOOL_CALL,
    KIND_TOOL_RESULT,
    KIND_USER,
    SpanView,
)

MAX_VIEW_CHARS = 1_000_000  # text beyond this is not read (keeps every detector's cost bounded)
WINDOW_ATTRIBUTE_CHARS = 1024  # a view in a trace's window keeps its span's attributes up to this size (engine.py)


@dataclass(frozen=True)
class SpanRecord:
    """A finished span as plain data."""

    trace_id: str
    span_id: str
    name: str = ""
    attributes: Mapping[str, Any] = field(default_factory=dict)
    start_time_ns: int = 0
    end_time_ns: int = 0
    parent_span_id: str | None = None

    @classmethod
    def of(cls, trace_id: str, span_id: str, name: str, attributes: Mapping[str, Any], start_time_ns: int,
           end_time_ns: int, parent_span_id: str | None) -> "SpanRecord":
        """``SpanRecord(...)`` with every field given, at a quarter of the cost: the instance dict is set at
        once instead of field by field through the frozen ``__setattr__`` (the collector makes one record
        per span). Such a dict is not shared-key, so it is larger: fine for a record, which the engine
        does not keep (its views keep the attributes, not the record)."""
        record = object.__new__(cls)
        object.__setattr__(record, "__dict__", {
            "trace_id": trace_id, "span_id": span_id, "name": name, "attributes": attributes,
            "start_time_ns": start_time_ns, "end_time_ns": end_time_ns, "parent_span_id": parent_span_id})
        return record


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value[:MAX_VIEW_CHARS]
    try:
        return json.dumps(value, ensure_ascii=False, default=str)[:MAX_VIEW_CHARS]
    except (TypeError, ValueError):
        return str(value)[:MAX_VIEW_CHARS]


def _messages(value: Any) -> list[Mapping[str, Any]]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return []
    if isinstance(value, Mapping):
        value = [value]
    if not isinstance(value, list):
        return []
    return [m for m in value if isinstance(m, Mapping)]


def _parts(message: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    parts = message.get("parts")
    if isinstance(parts, list):
        return [p for p in parts if isinstance(p, Mapping)]
    content = message.get("content")  # tolerate the older {"role", "content"} shape
    if isinstance(content, str):
        return [{"type": "text", "content": content}]
    return []


_new_view = native.field_setter(SpanView)  # SpanView's own constructor without the compiled accelerator


def _view(base: tuple, kind: str, text: str, location: str, tool: str | None = None, arguments: str | None = None,
          error: str | None = None, tool_call_id: str | None = None) -> SpanView:
    trace_id, span_id, span_name, start_time_ns, end_time_ns, attributes = base
    # positional: SpanView's fields in declaration order (a test holds this to the keyword form)
    return _new_view(kind, text, tool, arguments, error, trace_id, span_id, span_name, start_time_ns, end_time_ns,
                     location, tool_call_id, attributes)


_ABSENT = object()


def views_from_record(record: SpanRecord) -> Iterator[SpanView]:
    """Every view ``record`` carries, in the order they happened."""
    return iter(view_list(record))


def view_list(record: SpanRecord) -> list[SpanView]:
    """``views_from_record(record)`` as a list (what the engine takes; built without a generator)."""
    attrs = record.attributes
    get = attrs.get
    trace_id, span_id, name = record.trace_id, record.span_id, record.name
    start, end = record.start_time_ns, record.end_time_ns
    out: list[SpanView] = []
    reasoning = get(semconv.COT_REASONING_CONTENT)
    if reasoning:
        out.append(_new_view(KIND_REASONING, _text(reasoning), None, None, None, trace_id, span_id, name, start, end,
                             semconv.COT_REASONING_CONTENT, None, attrs))

    messages = get(semconv.GEN_AI_INPUT_MESSAGES, _ABSENT)
    if messages is not _ABSENT:
        out.extend(_input_views(messages, (trace_id, span_id, name, start, end, attrs)))
    messages = get(semconv.GEN_AI_OUTPUT_MESSAGES, _ABSENT)
    if messages is not _ABSENT:
        out.extend(_output_views(messages, (trace_id, span_id, name, start, end, attrs)))

    arguments = get(semconv.GEN_AI_TOOL_CALL_ARGUMENTS, _ABSENT)
    result = get(semconv.GEN_AI_TOOL_CALL_RESULT, _ABSENT)
    if arguments is _ABSENT and result is _ABSENT:
        return out
    tool = get(semconv.GEN_AI_TOOL_NAME)
    tool = str(tool) if tool else None
    call_id = get(semconv.GEN_AI_TOOL_CALL_ID)
    call_id = str(call_id) if call_id else None
    if arguments is not _ABSENT:
        arguments = _text(arguments)
        out.append(_new_view(KIND_TOOL_CALL, arguments, tool, arguments, None, trace_id, span_id, name, start, end,
                             semconv.GEN_AI_TOOL_CALL_ARGUMENTS, call_id, attrs))
    if result is not _ABSENT:
        error = get(semconv.ERROR_TYPE)
        out.append(_new_view(KIND_TOOL_RESULT, _text(result), tool, None, str(error) if error else None, trace_id,
                             span_id, name, start, end, semconv.GEN_AI_TOOL_CALL_RESULT, call_id, attrs))
    return out


# what the compiled keyed_views reads: the attribute names, the kinds it makes, the text limits (see _construct.c)
VIEW_MAKER_SPEC = ((semconv.COT_REASONING_CONTENT, semconv.GEN_AI_INPUT_MESSAGES, semconv.GEN_AI_OUTPUT_MESSAGES,
                    semconv.GEN_AI_TOOL_NAME, semconv.GEN_AI_TOOL_CALL_ID, semconv.GEN_AI_TOOL_CALL_ARGUMENTS,
                    semconv.GEN_AI_TOOL_CALL_RESULT, semconv.ERROR_TYPE),
                   (KIND_REASONING, KIND_TOOL_CALL, KIND_TOOL_RESULT), MAX_VIEW_CHARS, WINDOW_ATTRIBUTE_CHARS)
_NATIVE_VIEWS = native.view_maker(_new_view, *VIEW_MAKER_SPEC)


def python_keyed_views(record: SpanRecord) -> tuple[list[SpanView], list[str | None], bool]:
    """``keyed_views`` in Python (which leaves ``plain`` False: the engine's window decides)."""
    views = view_list(record)
    return views, [dedupe_key(view) for view in views], False


def keyed_views(record: SpanRecord) -> tuple[list[SpanView], list[str | None], bool]:
    """``(views, keys, plain)``: ``view_list(record)``, each view's ``dedupe_key``, and True when every
    attribute of the span is known to be a str of at most ``WINDOW_ATTRIBUTE_CHARS`` (a trace's window then
    keeps the views as they are), False when not known. What the engine takes. Where
    ``otel_cot._construct`` is built (:mod:`otel_cot.native`), a span whose views come from plain string
    attributes (an ``execute_tool`` or a ``reasoning`` span, not a chat span's messages) gets all three from
    one C call."""
    if _NATIVE_VIEWS is not None:
        made = _NATIVE_VIEWS(record)
        if made is not None:
            return made
    return python_keyed_views(record)


def _input_views(value: Any, base: tuple) -> Iterator[SpanView]:
    messages = _messages(value)
    last_assistant = -1
    for i, message in enumerate(messages):
        if message.get("role") == "assistant":
            last_assistant = i
    for i in range(last_assistant + 1, len(messages)):
        message = messages[i]
        role = message.get("role")
        for j, part in enumerate(_parts(message)):
            where = f"{semconv.GEN_AI_INPUT_MESSAGES}[{i}].parts[{j}]"
            ptype = part.get("type")
            if ptype == "tool_call_response":
                call_id = part.get("id")
                yield _view(base, KIND_TOOL_RESULT, _text(part.get("response", part.get("result"))), where,
                            tool=part.get("name"), tool_call_id=str(call_id) if call_id else None)
            elif ptype == "text" and role in ("user", "system"):
                yield _view(base, KIND_USER if role == "user" else KIND_SYSTEM, _text(part.get("content")), where)
            elif ptype == "text" and role == "tool":
                yield _view(base, KIND_TOOL_RESULT, _text(part.get("content")), where)


def _output_views(value: Any, base: tuple) -> Iterator[SpanView]:
    for i, message in enumerate(_messages(value)):
        for j, part in enumerate(_parts(message)):
            where = f"{semconv.GEN_AI_OUTPUT_MESSAGES}[{i}].parts[{j}]"
            ptype = part.get("type")
            if ptype == "reasoning":
                yield _view(base, KIND_REASONING, _text(part.get("content")), where)
            elif ptype == "text":
                yield _view(base, KIND_MODEL_CALL, _text(part.get("content")), where)
            elif ptype == "tool_call":
                args = _text(part.get("arguments"))
                call_id = part.get("id")
                yield _view(base, KIND_TOOL_CALL, args, where, tool=part.get("name"), arguments=args,
                            tool_call_id=str(call_id) if call_id else None)


def dedupe_key(view: SpanView) -> str | None:
    """A key under which the same content seen on another span counts as already judged."""
    if view.tool_call_id and view.kind in (KIND_TOOL_CALL, KIND_TOOL_RESULT):
        return f"{view.kind}:{view.tool_call_id}"
    if view.kind == KIND_REASONING and view.text:
        return f"r:{hash(view.text)}"
    return None
