"""otel-cot's own failures never reach the caller.

Each hook of ours is made to raise in turn; every call must still return exactly what the
bare SDK returns (same types, same stream behaviour, sync and async), and uninstrument()
must give back the original methods.
"""

from __future__ import annotations

import asyncio

import anthropic
import openai
import pytest

from otel_cot import content
from otel_cot.instrumentation import _wrappers
from otel_cot.instrumentation._model_call import ModelCall
from otel_cot.instrumentation.anthropic import messages
from otel_cot.instrumentation.openai import chat, responses

from .support.calls import call_async, call_sync, kwargs_for, resource_for
from .support.fixtures import load

FIXTURES = [
    "openai-compatible/chat-nostream--deepseek_model_thinking_part--pydantic-ai.json",
    "openai-compatible/chat-stream--deepseek_streamed_reasoning_content--dd-trace-py.json",
    "openai/responses-nostream--openai_responses_thinking_with_tool_calls--pydantic-ai-i0.json",
    "openai/responses-stream--call_with_thinking__openai_gpt_5_responses__stream--mirascope-i0.json",
    "anthropic/messages-nostream--anthropic_model_thinking_part--pydantic-ai-i0.json",
    "anthropic/messages-stream--call_with_thinking__anthropic_claude_sonnet_4_0__stream--mirascope-i0.json",
    "openai/chat-nostream--chat_completion_404--otel-contrib.json",
]

SABOTAGE = [
    (chat, "request"), (responses, "request"), (messages, "request"),
    (chat, "response"), (responses, "response"), (messages, "response"),
    (chat.ChatStreamAccumulator, "add"), (responses.ResponsesStreamAccumulator, "add"),
    (messages.MessagesStreamAccumulator, "add"),
    (chat.ChatStreamAccumulator, "result"), (responses.ResponsesStreamAccumulator, "result"),
    (messages.MessagesStreamAccumulator, "result"),
    (ModelCall, "__init__"), (ModelCall, "activate"), (ModelCall, "finish"), (ModelCall, "first_chunk"),
    (ModelCall, "_emit_reasoning_spans"), (_wrappers, "_record_stream"), (content, "clean"),
]

_BARE: dict[tuple[str, bool], dict] = {}


def _boom(*args, **kwargs):
    raise RuntimeError("otel-cot bug injected by the test")


def _run(fx, replay, is_async):
    replay.serve(fx["response"])
    return asyncio.run(call_async(fx, replay.url)) if is_async else call_sync(fx, replay.url)


def _bare(name, is_async, replay, instrumentation):
    key = (name, is_async)
    if key not in _BARE:
        instrumentation.off()
        _BARE[key] = _run(load(name), replay, is_async)
        instrumentation.on()
    return _BARE[key]


@pytest.mark.expects_internal_errors
@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("owner,attribute", SABOTAGE, ids=[f"{getattr(o, '__name__', o)}.{a}" for o, a in SABOTAGE])
def test_results_unchanged_when_our_code_raises(owner, attribute, is_async, replay, instrumentation, spans,
                                                internal_errors, monkeypatch):
    expected = {name: _bare(name, is_async, replay, instrumentation) for name in FIXTURES}
    monkeypatch.setattr(owner, attribute, _boom)
    instrumentation.on()  # adapters capture their functions when instrumenting
    for name in FIXTURES:
        assert _run(load(name), replay, is_async) == expected[name], name
    assert internal_errors, "the injected failure was never reached"


@pytest.mark.expects_internal_errors
def test_stream_closed_early_when_our_code_raises(replay, instrumentation, spans, internal_errors, monkeypatch):
    monkeypatch.setattr(_wrappers, "_recorder_of", _boom)
    monkeypatch.setattr(messages.MessagesStreamAccumulator, "add", _boom)
    instrumentation.on()
    fx = load(FIXTURES[5])
    replay.serve(fx["response"])
    resource = resource_for(fx, replay.url, is_async=False)
    with resource.create(**kwargs_for(resource.create, fx["request"]["body"])) as stream:
        first = next(iter(stream))
    assert first.type == "message_start"
    assert internal_errors


@pytest.mark.expects_internal_errors
def test_a_failing_reporter_is_contained(replay, instrumentation, spans, monkeypatch):
    from otel_cot import set_internal_error_reporter

    def broken_reporter(where, exc):
        raise ValueError("reporter bug")

    previous = set_internal_error_reporter(broken_reporter)
    try:
        monkeypatch.setattr(chat, "response", _boom)
        instrumentation.on()
        fx = load(FIXTURES[0])
        assert _run(fx, replay, False)["ok"]
    finally:
        set_internal_error_reporter(previous)


def test_uninstrument_restores_the_original_methods(instrumentation):
    import wrapt
    from anthropic import _base_client
    from anthropic.resources.beta.messages import Messages as BetaMessages
    from anthropic.resources.messages import AsyncMessages, Messages
    from openai.resources.chat.completions import AsyncCompletions, Completions
    from openai.resources.responses import Responses

    targets = [(Completions, "create"), (AsyncCompletions, "create"), (Completions, "parse"), (Responses, "create"),
               (Messages, "create"), (AsyncMessages, "stream"), (BetaMessages, "create"),
               (openai.Stream, "close"), (anthropic.Stream, "close"), (_base_client, "start_api_call_span")]

    def wrapped(owner, name):
        return isinstance(vars(owner)[name], wrapt.FunctionWrapper)

    assert [(o, n) for o, n in targets if not wrapped(o, n)] == []
    instrumentation.off()
    assert not any(wrapped(o, n) for o, n in targets)
