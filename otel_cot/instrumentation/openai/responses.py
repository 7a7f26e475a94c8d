"""The Responses API: request, response and stream events as plain values.

Reasoning arrives as ``reasoning`` output items: a ``summary`` (what OpenAI shows),
``content`` of type ``reasoning_text`` (gpt-oss, DeepSeek) and ``encrypted_content``, which
is never decoded — its presence is recorded as ``cot.reasoning.redacted=true``.
"""

from __future__ import annotations

from typing import Any

from ... import semconv as sc
from ...values import (Fields, as_int, get, numbers, plain, reasoning_part, text_part, tool_call_part,
                       tool_response_part)
from .._endpoint import base_url_of, endpoint_attributes, provider_for
from .._model_call import PARTS_SEPARATOR, Message, ModelRequest, ModelResponse, ReasoningBlock

_TEXT_TYPES = ("input_text", "output_text", "text")


def _content_parts(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [text_part(content)] if content else []
    parts = []
    for item in content or ():
        kind = get(item, "type")
        if kind in _TEXT_TYPES:
            parts.append(text_part(get(item, "text") or ""))
        elif kind == "refusal":
            parts.append({"type": "refusal", "content": get(item, "refusal") or ""})
        elif kind:
            parts.append({"type": str(kind)})
    return parts


def _texts(entries: Any) -> list[Any]:
    return [text for text in (get(entry, "text") for entry in entries or ()) if text]


def _reasoning_texts(item: Any) -> tuple[list[str], str]:
    """The readable texts of a reasoning item and the source they came from."""
    content = _texts(get(item, "content"))
    if content:
        return content, sc.SOURCE_OPENAI_REASONING_TEXT
    summary = _texts(get(item, "summary"))
    if summary:
        return summary, sc.SOURCE_OPENAI_SUMMARY
    return [], sc.SOURCE_OPENAI_ENCRYPTED


def _reasoning_block(item: Any, texts: list[str], source: str) -> ReasoningBlock:
    return ReasoningBlock(PARTS_SEPARATOR.join(texts) or None, source, redacted=bool(get(item, "encrypted_content")),
                          parts=texts if len(texts) > 1 else None)


def input_messages(value: Any) -> list[Message]:
    if value is None:
        return []
    if isinstance(value, str):
        return [{"role": "user", "parts": [text_part(value)]}]
    out: list[Message] = []
    for item in value:
        kind = get(item, "type")
        if kind in (None, "message"):
            out.append({"role": get(item, "role") or "user", "parts": _content_parts(get(item, "content"))})
        elif kind in ("function_call", "custom_tool_call"):
            arguments = get(item, "arguments") if kind == "function_call" else get(item, "input")
            out.append({"role": "assistant",
                        "parts": [tool_call_part(get(item, "call_id"), get(item, "name"), arguments)]})
        elif kind in ("function_call_output", "custom_tool_call_output"):
            out.append({"role": "tool", "parts": [tool_response_part(get(item, "call_id"), plain(get(item, "output")))]})
        elif kind == "reasoning":
            texts, _source = _reasoning_texts(item)
            out.append({"role": "assistant", "parts": [reasoning_part(t) for t in texts]})
        else:
            out.append({"role": "assistant", "parts": [{"type": str(kind)}]})
    return out


def request(instance: Any, kwargs: dict[str, Any]) -> ModelRequest:
    base_url = base_url_of(instance)
    attributes = endpoint_attributes(base_url)
    attributes.update(numbers((
        (sc.GEN_AI_REQUEST_MAX_TOKENS, as_int(kwargs.get("max_output_tokens"))),
        (sc.GEN_AI_REQUEST_TEMPERATURE, kwargs.get("temperature")),
        (sc.GEN_AI_REQUEST_TOP_P, kwargs.get("top_p")),
    )))
    instructions = kwargs.get("instructions")
    tools = kwargs.get("tools")
    model = kwargs.get("model")
    return ModelRequest(
        provider=provider_for(base_url, "openai"),
        model=model if isinstance(model, str) else None,
        attributes=attributes,
        input_messages=input_messages(kwargs.get("input")),
        system_instructions=[text_part(instructions)] if isinstance(instructions, str) and instructions else None,
        tool_definitions=list(tools) if tools else None,
        stream=bool(kwargs.get("stream")),
    )


def _output_parts(item: Any, kind: Any) -> list[dict[str, Any]]:
    """The message parts of an output item of type ``kind`` other than reasoning."""
    if kind == "message":
        return _content_parts(get(item, "content"))
    if kind == "function_call":
        return [tool_call_part(get(item, "call_id"), get(item, "name"), get(item, "arguments"))]
    if kind == "custom_tool_call":
        return [tool_call_part(get(item, "call_id"), get(item, "name"), get(item, "input"))]
    # Provider-run tools (web search, MCP, code interpreter...): name the step, keep its call shape.
    part: dict[str, Any] = {"type": "server_tool_call", "name": str(kind)}
    if get(item, "id"):
        part["id"] = get(item, "id")
    for key in ("action", "arguments", "server_label", "name"):
        if get(item, key) is not None:
            part[key if key != "name" else "tool"] = plain(get(item, key))
    return [part]


def _finish_reason(result: Any) -> str | None:
    reason = get(get(result, "incomplete_details"), "reason") or get(result, "status")
    return str(reason) if reason else None


def response_from_items(result: Any, items: list[Any], times: dict[int, list[int]] | None = None) -> ModelResponse:
    out = ModelResponse(response_id=get(result, "id"), response_model=get(result, "model"))
    parts: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        kind = get(item, "type")
        if kind == "reasoning":
            texts, source = _reasoning_texts(item)
            block = _reasoning_block(item, texts, source)
            if times and index in times:
                block.start_ns, block.end_ns = times[index]
            out.reasoning.append(block)
            parts.extend(reasoning_part(t) for t in texts)
        else:
            parts.extend(_output_parts(item, kind))
    finish = _finish_reason(result)
    message: Message = {"role": "assistant", "parts": parts}
    if finish:
        message["finish_reason"] = finish
        out.finish_reasons.append(finish)
    out.output_messages.append(message)
    usage = get(result, "usage")
    if usage is not None:
        out.input_tokens = as_int(get(usage, "input_tokens"))
        out.output_tokens = as_int(get(usage, "output_tokens"))
        out.reasoning_tokens = as_int(get(get(usage, "output_tokens_details"), "reasoning_tokens"))
        out.cache_read_tokens = as_int(get(get(usage, "input_tokens_details"), "cached_tokens"))
    return out


def response(result: Any) -> ModelResponse | None:
    output = get(result, "output")
    if output is None:
        return None
    return response_from_items(result, list(output))


_FINAL_EVENTS = ("response.completed", "response.incomplete", "response.failed")
# What the stream accumulator reads through ``Fields`` (the rest through ``get``): the text deltas' fields (other
# events declare only some of them, and are read through ``get``).
_EVENT = Fields("type", "output_index", "delta")
_REASONING_DELTAS = ("response.reasoning_summary_text.delta", "response.reasoning_text.delta")


class ResponsesStreamAccumulator:
    """Accumulates Responses stream events; the final ``response.completed`` carries everything."""

    __slots__ = ("_final", "_latest", "_items", "_partial", "_times")

    def __init__(self) -> None:
        self._final: Any = None
        self._latest: Any = None
        self._items: dict[int, Any] = {}
        self._partial: dict[int, dict[str, Any]] = {}
        self._times: dict[int, list[int]] = {}

    def add(self, event: Any, now_ns: int) -> None:
        fields = event.__dict__ if type(event) in _EVENT.direct else _EVENT.of(event)
        kind = fields.get("type")
        if kind in _REASONING_DELTAS:
            index = fields.get("output_index") or 0
            times = self._times.get(index)
            if times is None:
                self._times[index] = [now_ns, now_ns]
            else:
                times[1] = now_ns
            entry = self._partial.get(index)
            if entry is None:
                entry = self._partial.setdefault(index, {"type": "reasoning", "texts": [], "summary": False})
            entry["texts"].append(fields.get("delta") or "")
            entry["summary"] = kind == "response.reasoning_summary_text.delta"
        elif kind == "response.output_text.delta":
            index = fields.get("output_index") or 0
            entry = self._partial.get(index)
            if entry is None:
                entry = self._partial.setdefault(index, {"type": "message", "texts": []})
            entry["texts"].append(fields.get("delta") or "")
        elif kind in ("response.output_item.added", "response.output_item.done"):
            index = fields.get("output_index") or 0
            item = get(event, "item")
            if get(item, "type") == "reasoning":
                self._touch(index, now_ns)
            if kind == "response.output_item.done":
                self._items[index] = item
        elif kind in _FINAL_EVENTS:
            self._final = get(event, "response")
        elif kind in ("response.created", "response.in_progress"):
            self._latest = get(event, "response")

    def _touch(self, index: int, now_ns: int) -> None:
        times = self._times.get(index)
        if times is None:
            self._times[index] = [now_ns, now_ns]
        else:
            times[1] = now_ns

    def result(self) -> ModelResponse:
        if self._final is not None and get(self._final, "output"):
            return response_from_items(self._final, list(get(self._final, "output")), self._times)
        # The stream ended early (closed, abandoned, failed): report what arrived.
        indices = sorted(set(self._items) | set(self._partial))
        items: list[Any] = []
        for index in indices:
            if index in self._items:
                items.append(self._items[index])
                continue
            partial = self._partial[index]
            text = "".join(partial["texts"])
            if partial["type"] != "reasoning":
                items.append({"type": "message", "content": [{"type": "output_text", "text": text}]})
            elif partial["summary"]:
                items.append({"type": "reasoning", "summary": [{"type": "summary_text", "text": text}]})
            else:
                items.append({"type": "reasoning", "content": [{"type": "reasoning_text", "text": text}]})
        times = {pos: self._times[index] for pos, index in enumerate(indices) if index in self._times}
        return response_from_items(self._final or self._latest, items, times)
