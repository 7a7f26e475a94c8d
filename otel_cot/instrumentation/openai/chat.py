"""Chat Completions: request, response and stream chunks as plain values (OpenAI and compatible servers).

Reasoning comes in several shapes here: ``reasoning_content`` (DeepSeek, Z.ai), ``reasoning``
(Groq, Ollama, OpenRouter, Cerebras), OpenRouter's ``reasoning_details`` and ``<think>`` tags
inside the content (DeepSeek-R1 / Qwen3 served as plain text).
"""

from __future__ import annotations

from typing import Any

from ... import semconv as sc
from ...content import ThinkTagTracker, split_think
from ...values import (Fields, as_int, get, numbers, plain, reasoning_part, text_part, tool_call_part,
                       tool_response_part)
from .._endpoint import base_url_of, endpoint_attributes, provider_for
from .._model_call import Message, ModelRequest, ModelResponse, ReasoningBlock

_REASONING_FIELDS = (("reasoning_content", sc.SOURCE_REASONING_CONTENT), ("reasoning", sc.SOURCE_REASONING_FIELD))
# What the stream accumulator reads through ``Fields``: chunk, choice, delta (the reasoning fields are provider
# extras, which the openai SDK does not declare), tool call, function.
_CHUNK = Fields("id", "model", "usage", "choices")
_CHOICE = Fields("index", "delta", "finish_reason")
_DELTA = Fields("content", "refusal", "tool_calls", extras=("reasoning_content", "reasoning", "reasoning_details"))
_CALL = Fields("index", "id", "function")
_FUNCTION = Fields("name", "arguments")


def _content_parts(content: Any) -> list[dict[str, Any]]:
    if content is None:
        return []
    if isinstance(content, str):
        return [text_part(content)] if content else []
    parts = []
    for item in content if isinstance(content, (list, tuple)) else [content]:
        kind = get(item, "type")
        if kind == "text":
            parts.append(text_part(get(item, "text") or ""))
        elif kind == "refusal":
            parts.append({"type": "refusal", "content": get(item, "refusal") or ""})
        elif kind == "image_url":
            url = get(get(item, "image_url"), "url") or ""
            parts.append({"type": "uri", "modality": "image", "uri": url if not url.startswith("data:") else "data:…"})
        elif kind:
            parts.append({"type": str(kind)})
    return parts


def input_messages(messages: Any) -> list[Message]:
    out: list[Message] = []
    for message in messages or ():
        role = get(message, "role") or "user"
        parts: list[dict[str, Any]] = []
        for field_name, _source in _REASONING_FIELDS:
            reasoning = get(message, field_name)
            if isinstance(reasoning, str) and reasoning:
                parts.append(reasoning_part(reasoning))
        if role == "tool":
            parts.append(tool_response_part(get(message, "tool_call_id"), plain(get(message, "content"))))
        else:
            parts.extend(_content_parts(get(message, "content")))
        for call in get(message, "tool_calls") or ():
            function = get(call, "function")
            parts.append(tool_call_part(get(call, "id"), get(function, "name"), get(function, "arguments")))
        out.append({"role": role, "parts": parts})
    return out


def _request_attributes(kwargs: dict[str, Any]) -> dict[str, Any]:
    attributes: dict[str, Any] = {}
    max_tokens = kwargs.get("max_completion_tokens") or kwargs.get("max_tokens")
    attributes.update(numbers((
        (sc.GEN_AI_REQUEST_MAX_TOKENS, as_int(max_tokens)),
        (sc.GEN_AI_REQUEST_SEED, as_int(kwargs.get("seed"))),
        (sc.GEN_AI_REQUEST_TEMPERATURE, kwargs.get("temperature")),
        (sc.GEN_AI_REQUEST_TOP_P, kwargs.get("top_p")),
        (sc.GEN_AI_REQUEST_FREQUENCY_PENALTY, kwargs.get("frequency_penalty")),
        (sc.GEN_AI_REQUEST_PRESENCE_PENALTY, kwargs.get("presence_penalty")),
    )))
    n = as_int(kwargs.get("n"))
    if n and n != 1:
        attributes[sc.GEN_AI_REQUEST_CHOICE_COUNT] = n
    stop = kwargs.get("stop")
    if isinstance(stop, str):
        attributes[sc.GEN_AI_REQUEST_STOP_SEQUENCES] = [stop]
    elif isinstance(stop, (list, tuple)) and stop:
        attributes[sc.GEN_AI_REQUEST_STOP_SEQUENCES] = [str(s) for s in stop]
    response_format = kwargs.get("response_format")
    kind = get(response_format, "type") if isinstance(response_format, dict) else None
    if kind in ("json_object", "json_schema"):
        attributes[sc.GEN_AI_OUTPUT_TYPE] = "json"
    elif kind == "text":
        attributes[sc.GEN_AI_OUTPUT_TYPE] = "text"
    return attributes


def request(instance: Any, kwargs: dict[str, Any]) -> ModelRequest:
    base_url = base_url_of(instance)
    attributes = endpoint_attributes(base_url)
    attributes.update(_request_attributes(kwargs))
    tools = kwargs.get("tools")
    model = kwargs.get("model")
    return ModelRequest(
        provider=provider_for(base_url, "openai"),
        model=model if isinstance(model, str) else None,
        attributes=attributes,
        input_messages=input_messages(kwargs.get("messages")),
        tool_definitions=list(tools) if tools else None,
        stream=bool(kwargs.get("stream")),
    )


def _details_reasoning(details: Any) -> tuple[str, bool]:
    """OpenRouter ``reasoning_details``: text and summary entries, and encrypted ones."""
    texts, encrypted = [], False
    for item in details or ():
        kind = get(item, "type") or ""
        if kind.endswith("encrypted"):
            encrypted = True
        text = get(item, "text") or get(item, "summary")
        if isinstance(text, str) and text:
            texts.append(text)
    return "".join(texts), encrypted


def _reasoning_of(message: Any) -> list[ReasoningBlock]:
    blocks = []
    for field_name, source in _REASONING_FIELDS:
        text = get(message, field_name)
        if isinstance(text, str) and text.strip():
            blocks.append(ReasoningBlock(text, source))
    details_text, encrypted = _details_reasoning(get(message, "reasoning_details"))
    if not blocks and (details_text or encrypted):
        blocks.append(ReasoningBlock(details_text or None, sc.SOURCE_REASONING_DETAILS, redacted=encrypted))
    elif blocks and encrypted:
        blocks[-1].redacted = True
    return blocks


def _output_message(content: str | None, refusal: str | None, reasoning: list[ReasoningBlock],
                    tool_calls: list[dict[str, Any]], finish_reason: Any) -> Message:
    parts: list[dict[str, Any]] = [reasoning_part(b.text) for b in reasoning if b.text]
    if content:
        parts.append(text_part(content))
    if refusal:
        parts.append({"type": "refusal", "content": refusal})
    parts.extend(tool_calls)
    message: Message = {"role": "assistant", "parts": parts}
    if finish_reason:
        message["finish_reason"] = str(finish_reason)
    return message


def _think_blocks(content: str | None) -> tuple[list[ReasoningBlock], str | None]:
    if not content or "think>" not in content:
        return [], content
    texts, answer = split_think(content)
    return [ReasoningBlock(t, sc.SOURCE_THINK_TAG) for t in texts], answer


def _usage(response: ModelResponse, usage: Any) -> None:
    if usage is None:
        return
    response.input_tokens = as_int(get(usage, "prompt_tokens"))
    response.output_tokens = as_int(get(usage, "completion_tokens"))
    response.reasoning_tokens = as_int(get(get(usage, "completion_tokens_details"), "reasoning_tokens"))
    response.cache_read_tokens = as_int(get(get(usage, "prompt_tokens_details"), "cached_tokens"))


def response(result: Any) -> ModelResponse | None:
    if get(result, "choices") is None:
        return None
    out = ModelResponse(response_id=get(result, "id"), response_model=get(result, "model"))
    for choice in get(result, "choices") or ():
        message = get(choice, "message")
        reasoning = _reasoning_of(message)
        think, content = _think_blocks(get(message, "content"))
        reasoning.extend(think)
        calls = []
        for call in get(message, "tool_calls") or ():
            function = get(call, "function")
            if function is not None:
                calls.append(tool_call_part(get(call, "id"), get(function, "name"), get(function, "arguments")))
            else:  # custom tools
                custom = get(call, "custom")
                calls.append(tool_call_part(get(call, "id"), get(custom, "name"), get(custom, "input")))
        finish = get(choice, "finish_reason")
        if finish:
            out.finish_reasons.append(str(finish))
        out.output_messages.append(_output_message(content, get(message, "refusal"), reasoning, calls, finish))
        out.reasoning.extend(reasoning)
    _usage(out, get(result, "usage"))
    return out


class _Choice:
    __slots__ = ("content", "refusal", "reasoning", "reasoning_times", "details", "tool_calls", "finish", "think")

    def __init__(self) -> None:
        self.content: list[str] = []
        self.refusal: list[str] = []
        self.reasoning: dict[str, list[str]] = {}
        self.reasoning_times: dict[str, list[int]] = {}
        self.details: list[Any] = []
        self.tool_calls: dict[int, dict[str, Any]] = {}
        self.finish: Any = None
        self.think = ThinkTagTracker()


def _add_delta(state: _Choice, delta: Any, now_ns: int) -> None:
    if type(delta) in _DELTA.direct:
        fields, extra = delta.__dict__, getattr(delta, "__pydantic_extra__", None)
    else:
        fields = extra = _DELTA.of(delta)
    content = fields.get("content")
    if content:
        state.content.append(content)
        state.think.feed(content, now_ns)
    refusal = fields.get("refusal")
    if refusal:
        state.refusal.append(refusal)
    if extra:  # provider extras (DeepSeek, Groq, OpenRouter...): none on OpenAI
        for field_name, _source in _REASONING_FIELDS:
            text = extra.get(field_name)
            if isinstance(text, str) and text:
                pieces = state.reasoning.get(field_name)
                if pieces is None:
                    state.reasoning[field_name] = [text]
                    state.reasoning_times[field_name] = [now_ns, now_ns]
                else:
                    pieces.append(text)
                    state.reasoning_times[field_name][1] = now_ns
        details = extra.get("reasoning_details")
        if details:
            state.details.extend(details)
    for call in fields.get("tool_calls") or ():
        call_fields = call.__dict__ if type(call) in _CALL.direct else _CALL.of(call)
        index = call_fields.get("index") or 0
        slot = state.tool_calls.get(index)
        if slot is None:
            slot = state.tool_calls[index] = {"id": None, "name": None, "arguments": []}
        call_id = call_fields.get("id")
        if call_id:
            slot["id"] = call_id
        function = call_fields.get("function")
        function_fields = function.__dict__ if type(function) in _FUNCTION.direct else _FUNCTION.of(function)
        name = function_fields.get("name")
        if name:
            slot["name"] = name
        arguments = function_fields.get("arguments")
        if arguments:
            slot["arguments"].append(arguments)


class ChatStreamAccumulator:
    """Accumulates ``ChatCompletionChunk``s into the response they add up to."""

    __slots__ = ("_id", "_model", "_choices", "_usage")

    def __init__(self) -> None:
        self._id: str | None = None
        self._model: str | None = None
        self._choices: dict[int, _Choice] = {}
        self._usage: Any = None

    def add(self, chunk: Any, now_ns: int) -> None:
        fields = chunk.__dict__ if type(chunk) in _CHUNK.direct else _CHUNK.of(chunk)
        if self._id is None:
            self._id = fields.get("id")
            self._model = fields.get("model")
        usage = fields.get("usage")
        if usage is not None:
            self._usage = usage
        for choice in fields.get("choices") or ():
            fields = choice.__dict__ if type(choice) in _CHOICE.direct else _CHOICE.of(choice)
            index = fields.get("index") or 0
            state = self._choices.get(index)
            if state is None:
                state = self._choices[index] = _Choice()
            delta = fields.get("delta")
            if delta is not None:
                _add_delta(state, delta, now_ns)
            finish = fields.get("finish_reason")
            if finish:
                state.finish = finish

    def result(self) -> ModelResponse:
        out = ModelResponse(response_id=self._id, response_model=self._model)
        for index in sorted(self._choices):
            state = self._choices[index]
            reasoning = []
            for field_name, source in _REASONING_FIELDS:
                if field_name in state.reasoning:
                    start, end = state.reasoning_times[field_name]
                    reasoning.append(ReasoningBlock("".join(state.reasoning[field_name]), source,
                                                    start_ns=start, end_ns=end))
            details_text, encrypted = _details_reasoning(state.details)
            if not reasoning and (details_text or encrypted):
                reasoning.append(ReasoningBlock(details_text or None, sc.SOURCE_REASONING_DETAILS, redacted=encrypted))
            think, content = _think_blocks("".join(state.content))
            for block in think:
                block.start_ns, block.end_ns = state.think.first_ns, state.think.last_ns
            reasoning.extend(think)
            calls = [tool_call_part(c["id"], c["name"], "".join(c["arguments"]) or None)
                     for _, c in sorted(state.tool_calls.items())]
            if state.finish:
                out.finish_reasons.append(str(state.finish))
            out.output_messages.append(_output_message(content, "".join(state.refusal) or None, reasoning,
                                                       calls, state.finish))
            out.reasoning.extend(reasoning)
        _usage(out, self._usage)
        return out
