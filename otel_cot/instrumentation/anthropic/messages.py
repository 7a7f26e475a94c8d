"""Anthropic Messages: request, response and stream events as plain values.

``thinking`` blocks become reasoning; ``redacted_thinking`` is recorded as present and
redacted, its opaque ``data`` never copied; ``signature`` is ignored.
"""

from __future__ import annotations

from typing import Any

from ... import semconv as sc
from ...values import (Fields, as_int, get, numbers, parse_arguments, plain, reasoning_part, text_part,
                       tool_call_part, tool_response_part)
from .._endpoint import base_url_of, endpoint_attributes
from .._model_call import Message, ModelRequest, ModelResponse, ReasoningBlock

_TOOL_USE_TYPES = ("tool_use", "server_tool_use", "mcp_tool_use")


def _tool_result_content(content: Any) -> Any:
    if isinstance(content, str) or content is None:
        return content
    texts = [get(block, "text") for block in content if get(block, "type") == "text"]
    return "\n".join(t for t in texts if t) if texts else plain(content)


def _block_parts(block: Any, kind: Any = None) -> list[dict[str, Any]]:
    """The message parts of a content block (of type ``kind``, when the caller read it already)."""
    if kind is None:
        kind = get(block, "type")
    if kind == "text":
        return [text_part(get(block, "text") or "")]
    if kind == "thinking":
        return [reasoning_part(get(block, "thinking") or "")]
    if kind == "redacted_thinking":
        return [{"type": "reasoning", "redacted": True}]
    if kind in _TOOL_USE_TYPES:
        part = tool_call_part(get(block, "id"), get(block, "name"), plain(get(block, "input")))
        if kind != "tool_use":
            part["server"] = get(block, "server_name") or True
        return [part]
    if kind == "tool_result":
        part = tool_response_part(get(block, "tool_use_id"), _tool_result_content(get(block, "content")))
        if get(block, "is_error"):
            part["is_error"] = True
        return [part]
    if isinstance(kind, str) and kind.endswith("tool_result"):  # web_search_tool_result, mcp_tool_result, ...
        return [tool_response_part(get(block, "tool_use_id"), plain(get(block, "content")))]
    if kind == "image":
        return [{"type": "blob", "modality": "image"}]
    return [{"type": str(kind)}] if kind else []


def input_messages(messages: Any) -> list[Message]:
    out: list[Message] = []
    for message in messages or ():
        content = get(message, "content")
        if isinstance(content, str):
            parts = [text_part(content)]
        else:
            parts = [p for block in content or () for p in _block_parts(block)]
        out.append({"role": get(message, "role") or "user", "parts": parts})
    return out


def _system(system: Any) -> list[dict[str, Any]] | None:
    if isinstance(system, str):
        return [text_part(system)] if system else None
    if system:
        return [p for block in system for p in _block_parts(block)] or None
    return None


def request(instance: Any, kwargs: dict[str, Any]) -> ModelRequest:
    base_url = base_url_of(instance)
    attributes = endpoint_attributes(base_url)
    attributes.update(numbers((
        (sc.GEN_AI_REQUEST_MAX_TOKENS, as_int(kwargs.get("max_tokens"))),
        (sc.GEN_AI_REQUEST_TOP_K, as_int(kwargs.get("top_k"))),
        (sc.GEN_AI_REQUEST_TEMPERATURE, kwargs.get("temperature")),
        (sc.GEN_AI_REQUEST_TOP_P, kwargs.get("top_p")),
    )))
    stop = kwargs.get("stop_sequences")
    if isinstance(stop, (list, tuple)) and stop:
        attributes[sc.GEN_AI_REQUEST_STOP_SEQUENCES] = [str(s) for s in stop]
    tools = kwargs.get("tools")
    model = kwargs.get("model")
    return ModelRequest(
        provider="anthropic",
        model=model if isinstance(model, str) else None,
        attributes=attributes,
        input_messages=input_messages(kwargs.get("messages")),
        system_instructions=_system(kwargs.get("system")),
        tool_definitions=list(tools) if tools else None,
        stream=bool(kwargs.get("stream")),
    )


def _reasoning_block(block: Any, kind: Any) -> ReasoningBlock | None:
    if kind == "thinking":
        return ReasoningBlock(get(block, "thinking") or None, sc.SOURCE_ANTHROPIC_THINKING)
    if kind == "redacted_thinking":
        return ReasoningBlock(None, sc.SOURCE_ANTHROPIC_REDACTED_THINKING, redacted=True)
    return None


def _usage(out: ModelResponse, usage: Any) -> None:
    if usage is None:
        return
    input_tokens = as_int(get(usage, "input_tokens"))
    cache_read = as_int(get(usage, "cache_read_input_tokens"))
    cache_creation = as_int(get(usage, "cache_creation_input_tokens"))
    # The GenAI conventions count cached input in gen_ai.usage.input_tokens; Anthropic reports it apart.
    if input_tokens is not None:
        out.input_tokens = input_tokens + (cache_read or 0) + (cache_creation or 0)
    out.cache_read_tokens = cache_read
    out.cache_creation_tokens = cache_creation
    out.output_tokens = as_int(get(usage, "output_tokens"))
    out.reasoning_tokens = as_int(get(get(usage, "output_tokens_details"), "thinking_tokens"))


def response_from_blocks(message: Any, blocks: list[Any], times: dict[int, list[int]] | None = None,
                         stop_reason: Any = None, usage: Any = None) -> ModelResponse:
    out = ModelResponse(response_id=get(message, "id"), response_model=get(message, "model"))
    parts: list[dict[str, Any]] = []
    for index, block in enumerate(blocks):
        kind = get(block, "type")
        reasoning = _reasoning_block(block, kind)
        if reasoning is not None:
            if times and index in times:
                reasoning.start_ns, reasoning.end_ns = times[index]
            out.reasoning.append(reasoning)
        parts.extend(_block_parts(block, kind))
    stop_reason = stop_reason or get(message, "stop_reason")
    result: Message = {"role": "assistant", "parts": parts}
    if stop_reason:
        result["finish_reason"] = str(stop_reason)
        out.finish_reasons.append(str(stop_reason))
    out.output_messages.append(result)
    _usage(out, usage if usage is not None else get(message, "usage"))
    return out


def response(result: Any) -> ModelResponse | None:
    content = get(result, "content")
    if not isinstance(content, (list, tuple)):  # not a Message (a raw HTTP response's bytes, say)
        return None
    return response_from_blocks(result, list(content))


# What the stream accumulator reads through ``Fields`` (the rest through ``get``): a content_block_delta event,
# its delta's type, and per delta type the one field it carries (kept under a key of the block).
_EVENT = Fields("type", "index", "delta")
_DELTA = Fields("type")
_DELTA_TEXTS = {
    "thinking_delta": ("_thinking", "thinking", Fields("type", "thinking")),
    "text_delta": ("_text", "text", Fields("type", "text")),
    "input_json_delta": ("_json", "partial_json", Fields("type", "partial_json")),
}


class MessagesStreamAccumulator:
    """Accumulates raw Messages stream events.

    Output tokens in ``message_delta`` are cumulative: they replace, never add to, the count
    ``message_start`` carried.
    """

    __slots__ = ("_message", "_blocks", "_times", "_stop_reason", "_usage")

    def __init__(self) -> None:
        self._message: Any = None
        self._blocks: dict[int, dict[str, Any]] = {}
        self._times: dict[int, list[int]] = {}
        self._stop_reason: Any = None
        self._usage: dict[str, Any] = {}

    def add(self, event: Any, now_ns: int) -> None:
        fields = event.__dict__ if type(event) in _EVENT.direct else _EVENT.of(event)
        kind = fields.get("type")
        if kind == "content_block_delta":  # nearly every event: kept inline
            index = fields.get("index") or 0
            block = self._blocks.get(index)
            if block is None:
                return
            delta = fields.get("delta")
            fields = delta.__dict__ if type(delta) in _DELTA.direct else _DELTA.of(delta)
            delta_type = fields.get("type")
            kept = _DELTA_TEXTS.get(delta_type) if type(delta_type) is str else None
            if kept is not None:  # thinking, text or tool-input JSON: the delta class declares that one field
                key, name, text_fields = kept
                if type(delta) not in text_fields.direct:
                    fields = text_fields.of(delta)
                pieces = block.get(key)
                if pieces is None:
                    block[key] = [fields.get(name) or ""]
                else:
                    pieces.append(fields.get(name) or "")
                if key == "_thinking":
                    self._times[index][1] = now_ns
        elif kind == "content_block_start":
            index = fields.get("index") or 0
            block = plain(get(event, "content_block")) or {}
            self._blocks[index] = block
            if block.get("type") in ("thinking", "redacted_thinking"):
                self._times[index] = [now_ns, now_ns]
        elif kind == "content_block_stop":
            index = fields.get("index") or 0
            if index in self._times:
                self._times[index][1] = now_ns
        elif kind == "message_start":
            self._message = get(event, "message")
            self._add_usage(get(self._message, "usage"))
        elif kind == "message_delta":
            self._stop_reason = get(get(event, "delta"), "stop_reason") or self._stop_reason
            self._add_usage(get(event, "usage"))

    def _add_usage(self, usage: Any) -> None:
        for key in ("input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens",
                    "output_tokens_details"):
            value = get(usage, key)
            if value is not None:
                self._usage[key] = value

    @staticmethod
    def _finished(block: dict[str, Any]) -> dict[str, Any]:
        block = dict(block)
        if "_text" in block:
            block["text"] = (block.get("text") or "") + "".join(block.pop("_text"))
        if "_thinking" in block:
            block["thinking"] = (block.get("thinking") or "") + "".join(block.pop("_thinking"))
        if "_json" in block:
            block["input"] = parse_arguments("".join(block.pop("_json")))
        return block

    def result(self) -> ModelResponse:
        indices = sorted(self._blocks)
        blocks = [self._finished(self._blocks[i]) for i in indices]
        times = {pos: self._times[i] for pos, i in enumerate(indices) if i in self._times}
        return response_from_blocks(self._message, blocks, times, self._stop_reason, self._usage or None)
