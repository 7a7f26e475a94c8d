"""Stream lifecycles: the span ends exactly once however the caller leaves the stream.

Exhausted, closed early, left inside a ``with`` block, abandoned to the garbage collector,
broken by the caller's own exception, failed mid-stream; and the SDKs' ``.stream()``
helpers, whose objects and methods must stay the SDK's own.
"""

from __future__ import annotations

import asyncio
import gc

import anthropic
import openai
import pytest
from anthropic.lib.streaming import AsyncMessageStream, MessageStream
from openai.lib.streaming.chat import ChatCompletionStream
from openai.lib.streaming.responses import ResponseStream

from .conftest import attrs
from .support.calls import kwargs_for, resource_for
from .support.fixtures import load

CHAT_REASONING = "openai-compatible/chat-stream--deepseek_streamed_reasoning_content--dd-trace-py.json"
CHAT_TOOLS = "openai/chat-stream--chat_completion_multiple_tools_streaming_with_content--otel-contrib.json"
RESPONSES_REASONING = "openai/responses-stream--call_with_thinking__openai_gpt_5_responses__stream--mirascope-i0.json"
ANTHROPIC_THINKING = "anthropic/messages-stream--call_with_thinking__anthropic_claude_sonnet_4_0__stream--mirascope-i0.json"
ANTHROPIC_BETA = "anthropic/messages-stream--anthropic_completion_beta_tools_stream--dd-trace-py.json"
STREAM_ERROR = "openai-compatible/chat-stream--openrouter_stream_error--pydantic-ai.json"
ALL_STREAMS = [CHAT_REASONING, CHAT_TOOLS, RESPONSES_REASONING, ANTHROPIC_THINKING]


def _open(replay, name, is_async=False):
    fx = load(name)
    replay.serve(fx["response"])
    resource = resource_for(fx, replay.url, is_async)
    return fx, resource, kwargs_for(resource.create, dict(fx["request"]["body"]))


def _only_model_span(spans):
    model = spans.model_calls()
    assert len(model) == 1, [s.name for s in spans.all()]
    return model[0]


@pytest.mark.parametrize("name", ALL_STREAMS)
def test_closed_after_first_chunk(name, replay, spans):
    _fx, resource, kwargs = _open(replay, name)
    stream = resource.create(**kwargs)
    next(iter(stream))
    assert spans.model_calls() == []  # still open while the caller reads
    stream.close()
    assert attrs(_only_model_span(spans))["cot.stream.outcome"] == "closed"
    stream.close()  # a second close changes nothing
    assert len(spans.model_calls()) == 1


@pytest.mark.parametrize("name", ALL_STREAMS)
def test_break_inside_with_block(name, replay, spans):
    _fx, resource, kwargs = _open(replay, name)
    with resource.create(**kwargs) as stream:
        for _event in stream:
            break
    assert attrs(_only_model_span(spans))["cot.stream.outcome"] == "closed"


@pytest.mark.parametrize("name", ALL_STREAMS)
def test_abandoned_stream_still_ends_its_span(name, replay, spans):
    _fx, resource, kwargs = _open(replay, name)
    stream = resource.create(**kwargs)
    next(iter(stream))
    del stream
    gc.collect()
    assert attrs(_only_model_span(spans))["cot.stream.outcome"] == "abandoned"


@pytest.mark.parametrize("name", ALL_STREAMS)
def test_caller_exception_in_loop_body(name, replay, spans):
    _fx, resource, kwargs = _open(replay, name)
    with pytest.raises(KeyError):
        with resource.create(**kwargs) as stream:
            for _event in stream:
                raise KeyError("the caller's own bug")
    span = _only_model_span(spans)
    assert attrs(span)["cot.stream.outcome"] == "closed"
    assert span.status.status_code.name != "ERROR"  # the model call itself did not fail


def test_partial_reasoning_is_kept_when_closed_early(replay, spans):
    _fx, resource, kwargs = _open(replay, CHAT_REASONING)
    stream = resource.create(**kwargs)
    seen = ""
    for chunk in stream:
        seen += getattr(chunk.choices[0].delta, "reasoning_content", None) or ""
        if len(seen) > 40:
            break
    stream.close()
    (reasoning,) = spans.reasoning()
    assert attrs(reasoning)["cot.reasoning.content"] == seen


def test_error_in_the_middle_of_a_stream(replay, spans):
    _fx, resource, kwargs = _open(replay, STREAM_ERROR)
    stream = resource.create(**kwargs)
    received = []
    with pytest.raises(openai.APIError):
        for chunk in stream:
            received.append(chunk)
    span = _only_model_span(spans)
    assert span.status.status_code.name == "ERROR"
    assert attrs(span)["error.type"] == "APIError"
    assert attrs(span)["cot.stream.outcome"] == "error"
    assert received and spans.reasoning(), "reasoning that arrived before the error is kept"


def test_async_stream_closed_early(replay, spans):
    async def run():
        _fx, resource, kwargs = _open(replay, ANTHROPIC_THINKING, is_async=True)
        stream = await resource.create(**kwargs)
        async for _event in stream:
            break
        await stream.close()

    asyncio.run(run())
    assert attrs(_only_model_span(spans))["cot.stream.outcome"] == "closed"


def test_async_stream_exhausted(replay, spans):
    async def run():
        _fx, resource, kwargs = _open(replay, RESPONSES_REASONING, is_async=True)
        stream = await resource.create(**kwargs)
        assert isinstance(stream, openai.AsyncStream)
        return [event async for event in stream]

    events = asyncio.run(run())
    assert events
    span = _only_model_span(spans)
    assert attrs(span)["cot.stream.outcome"] == "complete"
    assert spans.reasoning()


# --- the SDKs' stream helpers -------------------------------------------------------------------
def _helper_kwargs(method, fx):
    body = {k: v for k, v in fx["request"]["body"].items() if k != "stream"}
    return kwargs_for(method, body)


def test_openai_chat_stream_helper(replay, spans):
    fx, resource, _ = _open(replay, CHAT_REASONING)
    with resource.stream(**_helper_kwargs(resource.stream, fx)) as stream:
        assert type(stream) is ChatCompletionStream
        events = [event.type for event in stream]
        final = stream.get_final_completion()
    assert "content.delta" in events and final.choices[0].message.content
    span = _only_model_span(spans)
    assert attrs(span)["cot.stream.outcome"] == "complete"
    assert spans.reasoning()


def test_openai_chat_stream_helper_left_early(replay, spans):
    fx, resource, _ = _open(replay, CHAT_TOOLS)
    with resource.stream(**_helper_kwargs(resource.stream, fx)) as stream:
        next(iter(stream))
    assert attrs(_only_model_span(spans))["cot.stream.outcome"] == "closed"


def test_openai_responses_stream_helper(replay, spans):
    fx, resource, _ = _open(replay, RESPONSES_REASONING)
    with resource.stream(**_helper_kwargs(resource.stream, fx)) as stream:
        assert type(stream) is ResponseStream
        final = stream.get_final_response()
    assert final.output
    span = _only_model_span(spans)
    assert attrs(span)["cot.stream.outcome"] == "complete"
    assert [attrs(r)["cot.reasoning.source"] for r in spans.reasoning()] == ["openai.summary"]


def test_openai_responses_stream_helper_left_early(replay, spans):
    fx, resource, _ = _open(replay, RESPONSES_REASONING)
    with resource.stream(**_helper_kwargs(resource.stream, fx)) as stream:
        next(iter(stream))
    assert attrs(_only_model_span(spans))["cot.stream.outcome"] == "closed"


@pytest.mark.parametrize("name", [ANTHROPIC_THINKING, ANTHROPIC_BETA])
def test_anthropic_messages_stream_text_and_final_message(name, replay, spans):
    fx, resource, _ = _open(replay, name)
    with resource.stream(**_helper_kwargs(resource.stream, fx)) as stream:
        assert isinstance(stream, MessageStream) or type(stream).__name__ == "BetaMessageStream"
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "".join(b.text for b in final.content if b.type == "text")
    span = _only_model_span(spans)
    assert attrs(span)["cot.stream.outcome"] == "complete"
    assert attrs(span)["gen_ai.usage.output_tokens"] == final.usage.output_tokens


def test_anthropic_messages_stream_until_done_and_events(replay, spans):
    fx, resource, _ = _open(replay, ANTHROPIC_THINKING)
    with resource.stream(**_helper_kwargs(resource.stream, fx)) as stream:
        stream.until_done()
    assert attrs(_only_model_span(spans))["cot.stream.outcome"] == "complete"
    thinking = [b.thinking for b in stream.get_final_message().content if b.type == "thinking"]
    (reasoning,) = spans.reasoning()
    assert attrs(reasoning)["cot.reasoning.content"] == thinking[0]
    spans.clear()
    replay.serve(fx["response"])
    with resource.stream(**_helper_kwargs(resource.stream, fx)) as stream:
        kinds = {event.type for event in stream}
    assert {"thinking", "text", "message_stop"} <= kinds
    assert len(spans.model_calls()) == 1


def test_anthropic_messages_stream_left_early(replay, spans):
    fx, resource, _ = _open(replay, ANTHROPIC_THINKING)
    with resource.stream(**_helper_kwargs(resource.stream, fx)) as stream:
        next(iter(stream))
    assert attrs(_only_model_span(spans))["cot.stream.outcome"] == "closed"


def test_anthropic_async_messages_stream(replay, spans):
    async def run():
        fx, resource, _ = _open(replay, ANTHROPIC_THINKING, is_async=True)
        async with resource.stream(**_helper_kwargs(resource.stream, fx)) as stream:
            assert isinstance(stream, AsyncMessageStream)
            text = "".join([t async for t in stream.text_stream])
            return text, await stream.get_final_message()

    text, final = asyncio.run(run())
    assert text and final.content
    span = _only_model_span(spans)
    assert attrs(span)["cot.stream.outcome"] == "complete"
    assert len(spans.reasoning()) == 1


def test_stream_types_are_the_sdks_own(replay, spans):
    fx, resource, kwargs = _open(replay, CHAT_TOOLS)
    stream = resource.create(**kwargs)
    assert type(stream) is openai.Stream
    stream.close()
    fx, resource, kwargs = _open(replay, ANTHROPIC_THINKING)
    stream = resource.create(**kwargs)
    assert type(stream) is anthropic.Stream
    stream.close()


# --- raw responses ----------------------------------------------------------------------------------
def test_with_raw_response_is_read_without_changing_it(replay, spans):
    fx, resource, kwargs = _open(replay, "openai-compatible/chat-nostream--deepseek_model_thinking_part--pydantic-ai.json")
    raw = resource.with_raw_response.create(**kwargs)
    assert type(raw).__name__ == "LegacyAPIResponse"
    completion = raw.parse()
    assert completion is raw.parse()  # the SDK's cached parse, shared with us
    assert completion.choices[0].message.content
    span = _only_model_span(spans)
    assert attrs(span)["gen_ai.response.id"] == completion.id
    assert len(spans.reasoning()) == 1


def test_with_raw_response_stream(replay, spans):
    _fx, resource, kwargs = _open(replay, ANTHROPIC_THINKING)
    raw = resource.with_raw_response.create(**kwargs)
    assert spans.model_calls() == []
    events = list(raw.parse())
    assert events[-1].type == "message_stop"
    assert attrs(_only_model_span(spans))["cot.stream.outcome"] == "complete"
    assert len(spans.reasoning()) == 1


@pytest.mark.parametrize("name", [ANTHROPIC_THINKING, CHAT_TOOLS])
def test_with_streaming_response_body_is_left_to_the_caller(name, replay, spans):
    _fx, resource, kwargs = _open(replay, name)
    with resource.with_streaming_response.create(**kwargs) as response:
        lines = list(response.iter_lines())
    assert any(line.startswith("data:") for line in lines)
    assert len(spans.model_calls()) == 1
