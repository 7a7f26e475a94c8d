"""The defects found in the peer instrumentations (docs/architecture.md "What the peers get wrong"), each a case we
must pass."""

from __future__ import annotations

import json

from .conftest import attrs
from .support import expected
from .support.calls import call_sync
from .support.fixtures import load

REDACTED = "anthropic/messages-nostream--anthropic_model_thinking_part_redacted--pydantic-ai-i1.json"
REDACTED_STREAM = "anthropic/messages-stream--anthropic_model_thinking_part_redacted_stream--pydantic-ai.json"
THINK_TAGS = "openai-compatible/chat-nostream--hf_model_thinking_part--pydantic-ai.json"
THINK_TAGS_STREAM = "openai-compatible/chat-stream--hf_model_thinking_part_iter--pydantic-ai.json"
SUMMARY = "openai/responses-nostream--openai_responses_thinking_with_tool_calls--pydantic-ai-i0.json"
ANTHROPIC_STREAM = "anthropic/messages-stream--call_with_thinking__anthropic_claude_sonnet_4_0__stream--mirascope-i0.json"


def _call(replay, name):
    fx = load(name)
    replay.serve(fx["response"])
    assert call_sync(fx, replay.url)["ok"]
    return fx


def _redacted_blobs(fx):
    r = fx["response"]
    if r["sse"] is None:
        return [b["data"] for b in r["body"]["content"] if b["type"] == "redacted_thinking"]
    return [ev["content_block"]["data"] for ev in expected.sse_events(r["sse"])
            if ev.get("type") == "content_block_start" and ev["content_block"]["type"] == "redacted_thinking"]


def test_redacted_thinking_ciphertext_never_reaches_a_span(replay, spans):
    for name in (REDACTED, REDACTED_STREAM):
        spans.clear()
        fx = _call(replay, name)
        blobs = _redacted_blobs(fx)
        assert blobs
        everything = json.dumps([attrs(s) for s in spans.all()])
        assert not any(blob[:40] in everything for blob in blobs)
        marked = [s for s in spans.reasoning() if attrs(s)["cot.reasoning.source"] == "anthropic.redacted_thinking"]
        assert marked and all(attrs(s)["cot.reasoning.redacted"] is True for s in marked)


def test_think_tags_leave_the_answer_and_become_reasoning(replay, spans):
    for name in (THINK_TAGS, THINK_TAGS_STREAM):
        spans.clear()
        _call(replay, name)
        (model,) = spans.model_calls()
        output = json.loads(attrs(model)["gen_ai.output.messages"])
        texts = [p["content"] for m in output for p in m["parts"] if p["type"] == "text"]
        assert texts and not any("<think>" in t or "</think>" in t for t in texts)
        assert [attrs(s)["cot.reasoning.source"] for s in spans.reasoning()] == ["think_tag"]


def test_responses_summaries_without_item_status_are_kept(replay, spans):
    fx = _call(replay, SUMMARY)
    items = [it for it in fx["response"]["body"]["output"] if it["type"] == "reasoning"]
    assert items and all("status" not in it for it in items)
    (model,) = spans.model_calls()
    assert attrs(model)["gen_ai.usage.reasoning.output_tokens"] > 0
    assert len(spans.reasoning()) == len(items)


def test_streamed_anthropic_output_tokens_are_not_double_counted(replay, spans):
    fx = _call(replay, ANTHROPIC_STREAM)
    events = list(expected.sse_events(fx["response"]["sse"]))
    start = next(e for e in events if e["type"] == "message_start")["message"]["usage"]["output_tokens"]
    final = [e for e in events if e["type"] == "message_delta"][-1]["usage"]["output_tokens"]
    assert start > 0  # the trap: start + final would be wrong
    (model,) = spans.model_calls()
    assert attrs(model)["gen_ai.usage.output_tokens"] == final


def test_reasoning_span_times_follow_the_stream(replay, spans):
    _call(replay, ANTHROPIC_STREAM)
    (model,) = spans.model_calls()
    (reasoning,) = spans.reasoning()
    assert model.start_time < reasoning.start_time <= reasoning.end_time < model.end_time
