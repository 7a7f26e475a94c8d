"""Content capture: the on/off switches, size limits and secret redaction, end to end through the SDKs."""

from __future__ import annotations

import copy
import json

import pytest

from otel_cot.config import Settings
from otel_cot.content import ThinkTagTracker, split_think

from .conftest import attrs
from .support.calls import call_sync
from .support.fixtures import load

THINKING = "anthropic/messages-nostream--anthropic_model_thinking_part--pydantic-ai-i0.json"
CHAT_TOOLS = "openai/chat-nostream--chat_completion_tool_calls_with_content--otel-contrib-i0.json"
# Assembled so no scanner mistakes the test for a leaked credential.
FAKE_AWS_KEY = "AKIA" + "IOSFODNN7" + "EXAMPLQ"
FAKE_GITHUB_TOKEN = "ghp_" + "x1Y2z3A4b5C6d7E8f9G0h1I2j3K4l5M6n7O8"


@pytest.mark.parametrize("env", [{"OTEL_COT_CAPTURE_CONTENT": "false"},
                                 {"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "false"},
                                 {"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "NO_CONTENT"}])
def test_capture_off(env, replay, instrumentation, spans):
    instrumentation.on(Settings.from_env(env))
    fx = load(THINKING)
    replay.serve(fx["response"])
    assert call_sync(fx, replay.url)["ok"]
    (model,) = spans.model_calls()
    for key in ("gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.system_instructions"):
        assert key not in attrs(model)
    (reasoning,) = spans.reasoning()  # the reasoning span still shows that and when the model thought
    assert "cot.reasoning.content" not in attrs(reasoning)
    assert attrs(reasoning)["cot.reasoning.length"] > 0
    assert attrs(model)["gen_ai.usage.output_tokens"] > 0


def test_cot_variable_wins_over_the_genai_one():
    env = {"OTEL_COT_CAPTURE_CONTENT": "true", "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "false"}
    assert Settings.from_env(env).capture_content is True
    assert Settings.from_env({}).capture_content is True
    assert Settings.from_env({}, capture_content=False).capture_content is False


def test_reasoning_truncated_to_the_limit(replay, instrumentation, spans):
    instrumentation.on(Settings.from_env({"OTEL_COT_MAX_CONTENT_LENGTH": "50"}))
    fx = load(THINKING)
    replay.serve(fx["response"])
    assert call_sync(fx, replay.url)["ok"]
    (reasoning,) = spans.reasoning()
    content = attrs(reasoning)["cot.reasoning.content"]
    assert attrs(reasoning)["cot.reasoning.truncated"] is True
    assert content.startswith(fx["response"]["body"]["content"][0]["thinking"][:50])
    assert len(content) < 80
    (model,) = spans.model_calls()
    assert attrs(model)["cot.content.truncated"] is True
    for message in json.loads(attrs(model)["gen_ai.output.messages"]):
        for part in message["parts"]:
            assert len(part.get("content", "")) < 80


def test_not_truncated_under_the_limit(replay, spans):
    fx = load(THINKING)
    replay.serve(fx["response"])
    call_sync(fx, replay.url)
    (reasoning,) = spans.reasoning()
    assert attrs(reasoning)["cot.reasoning.truncated"] is False
    assert attrs(reasoning)["cot.reasoning.content"] == fx["response"]["body"]["content"][0]["thinking"]


def test_secrets_redacted_before_they_reach_a_span(replay, spans):
    fx = copy.deepcopy(load(THINKING))
    body = fx["response"]["body"]
    body["content"][0]["thinking"] += f" I will run it with AWS key {FAKE_AWS_KEY} now."
    fx["request"]["body"]["messages"][0]["content"] = f"deploy with token {FAKE_GITHUB_TOKEN}"
    replay.serve(fx["response"])
    assert call_sync(fx, replay.url)["ok"]
    everything = json.dumps([attrs(s) for s in spans.all()])
    assert FAKE_AWS_KEY not in everything and FAKE_GITHUB_TOKEN not in everything
    (reasoning,) = spans.reasoning()
    assert "[REDACTED:" in attrs(reasoning)["cot.reasoning.content"]
    (model,) = spans.model_calls()
    assert "[REDACTED:" in attrs(model)["gen_ai.input.messages"]
    assert attrs(model)["cot.content.redacted_secrets"] >= 2


def test_tool_call_arguments_are_structured(replay, spans):
    fx = load(CHAT_TOOLS)
    replay.serve(fx["response"])
    assert call_sync(fx, replay.url)["ok"]
    (model,) = spans.model_calls()
    output = json.loads(attrs(model)["gen_ai.output.messages"])
    calls = [p for m in output for p in m["parts"] if p["type"] == "tool_call"]
    assert calls and all(isinstance(c["arguments"], dict) for c in calls)
    assert output[0]["finish_reason"] == "tool_calls"
    assert json.loads(attrs(model)["gen_ai.tool.definitions"])


# --- <think> tags ---------------------------------------------------------------------------------
@pytest.mark.parametrize("text,blocks,answer", [
    ("<think>plan A</think>The answer", ["plan A"], "The answer"),
    ("<think>a</think>x<think>b</think>y", ["a", "b"], "xy"),
    ("<think>cut off mid-thought", ["cut off mid-thought"], ""),
    ("opened by the template</think>\n\nAnswer", ["opened by the template"], "Answer"),
    ("no tags at all", [], "no tags at all"),
    ("<think>\n\n</think>Just the answer", [], "Just the answer"),
])
def test_split_think(text, blocks, answer):
    assert split_think(text) == (blocks, answer)


def test_think_tracker_times_reasoning_across_chunk_boundaries():
    tracker = ThinkTagTracker()
    for i, delta in enumerate(["<th", "ink>let me", " think</th", "ink>", "answer"]):
        tracker.feed(delta, i)
    assert (tracker.first_ns, tracker.last_ns) == (1, 3)


def test_think_tracker_template_opened_block():
    tracker = ThinkTagTracker()
    for i, delta in enumerate(["reasoning", " more", "</think>", "answer"]):
        tracker.feed(delta, 10 + i)
    assert (tracker.first_ns, tracker.last_ns) == (10, 12)
