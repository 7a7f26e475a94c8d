"""The anthropic SDK (2.x) traces its own API calls; a call must still show exactly one model-call span.

Our choice (docs/spans.md): for the calls otel-cot instruments, the SDK's
``anthropic.messages.create`` span is suppressed and ours carries everything; the SDK's
other spans (count_tokens, sessions, tool runner) are left alone.
"""

from __future__ import annotations

import anthropic
import pytest

from .support.calls import call_sync
from .support.fixtures import load

THINKING = "anthropic/messages-nostream--anthropic_model_thinking_part--pydantic-ai-i0.json"
STREAM = "anthropic/messages-stream--call_with_thinking__anthropic_claude_sonnet_4_0__stream--mirascope-i0.json"
SDK_SCOPE = "com.anthropic.sdk.python"


def _sdk_spans(spans):
    return [s for s in spans.all() if s.instrumentation_scope and s.instrumentation_scope.name == SDK_SCOPE]


def test_the_sdk_traces_itself_without_us(replay, instrumentation, spans):
    instrumentation.off()
    replay.serve(load(THINKING)["response"])
    assert call_sync(load(THINKING), replay.url)["ok"]
    assert [s.name for s in _sdk_spans(spans)] == ["anthropic.messages.create"]


@pytest.mark.parametrize("name", [THINKING, STREAM])
@pytest.mark.parametrize("env", [{}, {"ANTHROPIC_OPEN_TELEMETRY": "false"},
                                 {"ANTHROPIC_OPEN_TELEMETRY_TRACES_CONTENT_MODE": "content"}],
                         ids=["sdk-tracing-on", "sdk-tracing-off", "sdk-content-mode"])
def test_one_model_call_span(name, env, replay, spans, monkeypatch):
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    fx = load(name)
    replay.serve(fx["response"])
    assert call_sync(fx, replay.url)["ok"]
    assert _sdk_spans(spans) == []
    model = spans.model_calls()
    assert [s.name for s in model] == [f"chat {fx['request']['body']['model']}"]
    assert all(r.parent.span_id == model[0].context.span_id for r in spans.reasoning())


def test_other_sdk_spans_are_left_alone(replay, spans):
    # No recording of count_tokens exists; this small body is synthesised in its documented shape.
    replay.serve({"status": 200, "headers": {"content-type": "application/json"}, "body": {"input_tokens": 12},
                  "sse": None})
    client = anthropic.Anthropic(api_key="test-key", base_url=replay.url, max_retries=0)
    count = client.messages.count_tokens(model="claude-sonnet-4-5", messages=[{"role": "user", "content": "hi"}])
    assert count.input_tokens == 12
    assert [s.name for s in _sdk_spans(spans)] == ["anthropic.messages.count_tokens"]
    assert spans.model_calls() == []
