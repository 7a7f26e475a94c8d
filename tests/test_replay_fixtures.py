"""Every recorded OpenAI, Anthropic and OpenAI-compatible interaction, replayed through the real SDKs.

For each fixture, sync and async: the result equals the bare SDK's, there is exactly one
model-call span, every reasoning text of the payload is in a reasoning span under it, tool
calls are in gen_ai.output.messages, usage is set, and errors give ERROR spans.
"""

from __future__ import annotations

import asyncio
import json

import pytest

from otel_cot import secrets

from .conftest import attrs, bare_then_instrumented
from .support import expected
from .support.calls import call_async, call_sync
from .support.fixtures import fixture_names, load

FIXTURES = fixture_names("chat.completions", "responses", "messages")


def _norm(text: str) -> str:
    return " ".join(text.split())


def _run(fx, replay, is_async):
    replay.serve(fx["response"])
    if is_async:
        return asyncio.run(call_async(fx, replay.url))
    return call_sync(fx, replay.url)


def test_every_fixture_is_covered():
    assert len(FIXTURES) == 94


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("name", FIXTURES)
def test_replay(name, is_async, replay, instrumentation, spans):
    fx = load(name)
    result = bare_then_instrumented(lambda: _run(fx, replay, is_async), instrumentation, spans)

    model_spans = spans.model_calls()
    assert len(model_spans) == 1, [s.name for s in model_spans]
    model = model_spans[0]
    assert model.name == f"chat {fx['request']['body'].get('model')}"
    assert attrs(model)["gen_ai.provider.name"]

    if not result["ok"]:
        assert model.status.status_code.name == "ERROR"
        assert attrs(model)["error.type"] == result["exc"]
        return
    assert model.status.status_code.name != "ERROR"

    reasoning = spans.reasoning()
    for span in reasoning:
        assert span.parent is not None and span.parent.span_id == model.context.span_id
        assert span.context.trace_id == model.context.trace_id
        assert model.start_time <= span.start_time <= span.end_time <= model.end_time
    blob = " ".join(_norm(str(attrs(s).get("cot.reasoning.content", ""))) for s in reasoning)
    for text in expected.reasoning_texts(fx):
        snippet = _norm(secrets.redact(text)[0])[:80]
        assert snippet in blob, f"reasoning not captured: {snippet!r}"
    if expected.redacted_reasoning(fx):
        assert any(attrs(s)["cot.reasoning.redacted"] for s in reasoning)
    assert attrs(model).get("cot.reasoning.count", 0) == len(reasoning)

    output = json.loads(attrs(model).get("gen_ai.output.messages", "[]"))
    calls = [p for m in output for p in m["parts"] if p["type"] == "tool_call"]
    for call_id, tool_name in expected.tool_calls(fx):
        assert any(c.get("name") == tool_name and c.get("id") == call_id for c in calls), (call_id, tool_name)

    usage = expected.usage(fx)
    if "output" in usage:
        assert attrs(model)["gen_ai.usage.output_tokens"] == usage["output"]
    if "reasoning" in usage:
        assert attrs(model)["gen_ai.usage.reasoning.output_tokens"] == usage["reasoning"]
    if fx["stream"]:
        assert attrs(model)["cot.stream.outcome"] == "complete"
        assert attrs(model)["gen_ai.response.time_to_first_chunk"] >= 0
