"""Model calls as the Agents SDK records them (response and generation spans), as plain values.

Used only when no otel-cot model-call span was made inside the SDK's span (the OpenAI
instrumentor is off, or the model goes through a client we do not wrap): the processor then
writes the one ``chat {model}`` span from what the SDK recorded.
"""

from __future__ import annotations

from typing import Any, Mapping

from ... import semconv as sc
from ...values import as_int, get, numbers, plain, text_part
from .._endpoint import endpoint_attributes, provider_for
from .._model_call import ModelRequest, ModelResponse
from ..openai import chat, responses

_SETTINGS = (
    ("temperature", sc.GEN_AI_REQUEST_TEMPERATURE),
    ("top_p", sc.GEN_AI_REQUEST_TOP_P),
    ("max_tokens", sc.GEN_AI_REQUEST_MAX_TOKENS),
    ("max_output_tokens", sc.GEN_AI_REQUEST_MAX_TOKENS),
    ("frequency_penalty", sc.GEN_AI_REQUEST_FREQUENCY_PENALTY),
    ("presence_penalty", sc.GEN_AI_REQUEST_PRESENCE_PENALTY),
)


def _settings_attributes(source: Any) -> dict[str, Any]:
    return numbers((key, get(source, name)) for name, key in _SETTINGS)


def _apply_usage(out: ModelResponse, usage: Any) -> None:
    """The SDK's usage dict fills what the response itself did not report."""
    if not isinstance(usage, Mapping):
        return
    for field_name, value in (
        ("input_tokens", as_int(usage.get("input_tokens"))),
        ("output_tokens", as_int(usage.get("output_tokens"))),
        ("reasoning_tokens", as_int(get(usage.get("output_tokens_details"), "reasoning_tokens"))),
        ("cache_read_tokens", as_int(get(usage.get("input_tokens_details"), "cached_tokens"))),
    ):
        if getattr(out, field_name) is None and value is not None:
            setattr(out, field_name, value)


def from_response_span(data: Any) -> tuple[ModelRequest, ModelResponse | None]:
    """A ``ResponseSpanData``: the Responses API ``Response`` and the input the SDK sent."""
    result = get(data, "response")
    model = get(result, "model")
    instructions = get(result, "instructions")
    tools = get(result, "tools")
    request = ModelRequest(
        provider="openai",
        model=model if isinstance(model, str) else None,
        attributes=_settings_attributes(result),
        input_messages=responses.input_messages(get(data, "input")),
        system_instructions=[text_part(instructions)] if isinstance(instructions, str) and instructions else None,
        tool_definitions=plain(tools) if tools else None,
    )
    response = responses.response(result) if result is not None else None
    if response is None and get(data, "usage"):
        response = ModelResponse()
    if response is not None:
        _apply_usage(response, get(data, "usage"))
    return request, response


def _generation_output(output: Any) -> ModelResponse | None:
    items = list(output or ())
    if not items:
        return None
    first = items[0]
    if get(first, "object") == "response" or get(first, "output") is not None:
        # Streamed chat completions are recorded as the Responses-shaped result they were turned into.
        return responses.response(first)
    return chat.response({"choices": [{"index": i, "message": m} for i, m in enumerate(items)]})


def from_generation_span(data: Any) -> tuple[ModelRequest, ModelResponse | None]:
    """A ``GenerationSpanData``: Chat Completions style input and output (OpenAI chat, LiteLLM, any-llm)."""
    config = get(data, "model_config") or {}
    base_url = get(config, "base_url")
    base_url = base_url if isinstance(base_url, str) else None
    attributes = endpoint_attributes(base_url)
    attributes.update(_settings_attributes(config))
    model = get(data, "model")
    request = ModelRequest(
        provider=provider_for(base_url, "openai"),
        model=model if isinstance(model, str) and model else None,
        attributes=attributes,
        input_messages=chat.input_messages(get(data, "input")),
    )
    response = _generation_output(get(data, "output"))
    if response is None and get(data, "usage"):
        response = ModelResponse()
    if response is not None:
        _apply_usage(response, get(data, "usage"))
    return request, response
