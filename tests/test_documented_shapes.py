"""Payload shapes the providers document but our recordings do not contain.

These bodies are synthesised from the providers' API references (the recorded fixtures cover
the common shapes); each is served over real HTTP and read by the real SDK.
"""

from __future__ import annotations

import json

import anthropic
import openai

from .conftest import attrs


def _json(body):
    return {"status": 200, "headers": {"content-type": "application/json"}, "body": body, "sse": None}


def _sse(events, with_event_lines=False):
    lines = []
    for ev in events:
        if with_event_lines:
            lines.append(f"event: {ev['type']}")
        lines.append("data: " + json.dumps(ev))
        lines.append("")
    return {"status": 200, "headers": {"content-type": "text/event-stream"}, "body": None,
            "sse": "\n".join(lines) + "\n"}


def _chat(replay):
    return openai.OpenAI(api_key="k", base_url=replay.url + "/v1", max_retries=0).chat.completions


def test_openrouter_encrypted_reasoning_details(replay, spans):
    # OpenRouter: reasoning_details entries of type reasoning.encrypted carry only opaque data.
    replay.serve(_json({"id": "gen-1", "object": "chat.completion", "created": 1, "model": "openai/o3",
                        "choices": [{"index": 0, "finish_reason": "stop", "message": {
                            "role": "assistant", "content": "42", "reasoning": None,
                            "reasoning_details": [{"type": "reasoning.encrypted", "data": "gAAAAopaque", "id": "r1",
                                                   "format": "openai-responses-v1", "index": 0}]}}]}))
    out = _chat(replay).create(model="openai/o3", messages=[{"role": "user", "content": "q"}])
    assert out.choices[0].message.content == "42"
    (reasoning,) = spans.reasoning()
    assert attrs(reasoning)["cot.reasoning.redacted"] is True
    assert attrs(reasoning)["cot.reasoning.source"] == "reasoning_details"
    assert "gAAAAopaque" not in json.dumps([attrs(s) for s in spans.all()])


def test_several_choices_each_with_reasoning(replay, spans):
    choice = lambda i: {"index": i, "finish_reason": "stop", "message": {  # noqa: E731
        "role": "assistant", "content": f"answer {i}", "reasoning_content": f"thinking about choice {i} carefully"}}
    replay.serve(_json({"id": "c", "object": "chat.completion", "created": 1, "model": "deepseek-reasoner",
                        "choices": [choice(0), choice(1)]}))
    _chat(replay).create(model="deepseek-reasoner", n=2, messages=[{"role": "user", "content": "q"}])
    (model,) = spans.model_calls()
    assert attrs(model)["gen_ai.request.choice.count"] == 2
    assert attrs(model)["gen_ai.response.finish_reasons"] == ("stop", "stop")
    assert len(json.loads(attrs(model)["gen_ai.output.messages"])) == 2
    assert sorted(attrs(s)["cot.reasoning.content"] for s in spans.reasoning()) == [
        "thinking about choice 0 carefully", "thinking about choice 1 carefully"]


def test_think_tags_split_across_stream_chunks(replay, spans):
    deltas = ["<thi", "nk>I should check", " the edge case</th", "ink>\n\nDone."]
    events = [{"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "qwen3",
               "choices": [{"index": 0, "delta": {"content": d}, "finish_reason": None}]} for d in deltas]
    replay.serve(_sse(events))
    stream = _chat(replay).create(model="qwen3", stream=True, messages=[{"role": "user", "content": "q"}])
    assert "".join(c.choices[0].delta.content for c in stream) == "".join(deltas)
    (reasoning,) = spans.reasoning()
    assert attrs(reasoning)["cot.reasoning.content"] == "I should check the edge case"
    output = json.loads(attrs(spans.model_calls()[0])["gen_ai.output.messages"])
    assert output[0]["parts"] == [{"type": "reasoning", "content": "I should check the edge case"},
                                  {"type": "text", "content": "Done."}]


def test_responses_summary_parts_with_encrypted_content_and_incomplete(replay, spans):
    replay.serve(_json({
        "id": "resp_1", "object": "response", "created_at": 1, "model": "o4-mini", "status": "incomplete",
        "incomplete_details": {"reason": "max_output_tokens"}, "output": [
            {"type": "reasoning", "id": "rs_1", "encrypted_content": "gAAAAsecret",
             "summary": [{"type": "summary_text", "text": "First I read the failing test."},
                         {"type": "summary_text", "text": "Then I looked at the parser."}]}],
        "usage": {"input_tokens": 10, "output_tokens": 64, "total_tokens": 74,
                  "output_tokens_details": {"reasoning_tokens": 64}, "input_tokens_details": {"cached_tokens": 0}},
        "parallel_tool_calls": True, "tool_choice": "auto", "tools": []}))
    client = openai.OpenAI(api_key="k", base_url=replay.url + "/v1", max_retries=0)
    client.responses.create(model="o4-mini", input="fix it", max_output_tokens=64)
    (model,) = spans.model_calls()
    assert attrs(model)["gen_ai.response.finish_reasons"] == ("max_output_tokens",)
    assert attrs(model)["gen_ai.usage.reasoning.output_tokens"] == 64
    (reasoning,) = spans.reasoning()
    assert attrs(reasoning)["cot.reasoning.content"] == "First I read the failing test.\n\nThen I looked at the parser."
    assert attrs(reasoning)["cot.reasoning.redacted"] is True
    assert "gAAAAsecret" not in json.dumps([attrs(s) for s in spans.all()])


def test_anthropic_stream_closed_in_the_middle_of_thinking(replay, spans):
    events = [
        {"type": "message_start", "message": {"id": "msg_1", "type": "message", "role": "assistant",
                                              "model": "claude-sonnet-4-5", "content": [], "stop_reason": None,
                                              "stop_sequence": None, "usage": {"input_tokens": 5, "output_tokens": 1}}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": "",
                                                                      "signature": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "The test expects "}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "a sorted list."}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": " never seen"}},
    ]
    replay.serve(_sse(events, with_event_lines=True))
    client = anthropic.Anthropic(api_key="k", base_url=replay.url, max_retries=0)
    stream = client.messages.create(model="claude-sonnet-4-5", max_tokens=100, stream=True,
                                    messages=[{"role": "user", "content": "q"}])
    for i, _event in enumerate(stream):
        if i == 3:
            break
    stream.close()
    (model,) = spans.model_calls()
    assert attrs(model)["cot.stream.outcome"] == "closed"
    (reasoning,) = spans.reasoning()
    assert attrs(reasoning)["cot.reasoning.content"] == "The test expects a sorted list."
