"""Every recorded Gemini interaction, replayed through the real ``google-genai`` SDK over HTTP.

For each fixture, sync and async: the result equals the bare SDK's, there is exactly one
``generate_content`` span, every thought of the payload is in a reasoning span under it,
function calls are in gen_ai.output.messages, usage is set (thoughts inside the output
tokens), errors give ERROR spans. Then the shapes the SDK accepts, stream lifecycles, and
our own failures, which must never reach the caller.
"""

from __future__ import annotations

import asyncio
import gc
import inspect
import json
from types import SimpleNamespace
from typing import Any

import pytest
from google import genai
from google.genai import types

from otel_cot import secrets
from otel_cot.config import Settings
from otel_cot.instrumentation import _wrappers
from otel_cot.instrumentation._model_call import ModelCall
from otel_cot.instrumentation.google_genai import generate_content

from .conftest import attrs, bare_then_instrumented
from .support.expected import sse_events
from .support.fixtures import fixture_names, load

FIXTURES = fixture_names("generate_content")
THINKING = "gemini/generate-nostream--call_with_thinking__google_gemini_2_5_flash__sync--mirascope.json"
THINKING_STREAM = "gemini/generate-stream--call_with_thinking__google_gemini_2_5_flash__async_stream--mirascope.json"
TOOLS_STREAM = "gemini/generate-stream--streaming_reasoning_with_multiple_tool_calls--openinference.json"
TOOL_ROUND_TRIP = ("gemini/generate-nostream--instrument_google_genai--logfire-i0.json",
                   "gemini/generate-nostream--instrument_google_genai--logfire-i1.json")
NOT_FOUND = "gemini/generate-nostream--model_name_suggestion_google--pydantic-ai.json"
NOT_FOUND_STREAM = "gemini/generate-stream--model_not_found_stream__google_gemini_2_5_flash--mirascope.json"


# --- calling the SDK the way a user would ---------------------------------------------------------
def _client(url: str) -> genai.Client:
    # google-genai 3.x defaults to /v1; the recordings were made against /v1beta. Keep the client
    # referenced while using it: a collected client closes its HTTP connection pool.
    return genai.Client(api_key="test-key", http_options=types.HttpOptions(base_url=url, api_version="v1beta"))


def _kwargs(fx: dict[str, Any]) -> dict[str, Any]:
    """The recorded REST body back as SDK arguments (the SDK accepts its camelCase field names)."""
    body = fx["request"]["body"]
    config = dict(body.get("generationConfig") or {})
    for key in ("systemInstruction", "tools"):
        if key in body:
            config[key] = body[key]
    model = fx["request"]["path"].split("/models/", 1)[1].split(":", 1)[0]
    return {"model": model, "contents": body["contents"],
            "config": types.GenerateContentConfig.model_validate(config) if config else None}


def _dump(value: Any) -> Any:
    return value.model_dump(mode="json", warnings=False, exclude={"sdk_http_response"})  # has a Date header


def _call_sync(fx: dict[str, Any], url: str) -> dict[str, Any]:
    client = _client(url)
    models = client.models
    try:
        if fx["stream"]:
            stream = models.generate_content_stream(**_kwargs(fx))
            return {"ok": True, "generator": inspect.isgenerator(stream), "chunks": [_dump(c) for c in stream]}
        return {"ok": True, "value": _dump(models.generate_content(**_kwargs(fx)))}
    except Exception as exc:
        return {"ok": False, "exc": type(exc).__name__, "code": getattr(exc, "code", None)}


async def _call_async(fx: dict[str, Any], url: str) -> dict[str, Any]:
    client = _client(url)
    models = client.aio.models
    try:
        if fx["stream"]:
            stream = await models.generate_content_stream(**_kwargs(fx))
            return {"ok": True, "generator": inspect.isasyncgen(stream), "chunks": [_dump(c) async for c in stream]}
        return {"ok": True, "value": _dump(await models.generate_content(**_kwargs(fx)))}
    except Exception as exc:
        return {"ok": False, "exc": type(exc).__name__, "code": getattr(exc, "code", None)}


def _run(fx: dict[str, Any], replay: Any, is_async: bool) -> dict[str, Any]:
    replay.serve(fx["response"])
    return asyncio.run(_call_async(fx, replay.url)) if is_async else _call_sync(fx, replay.url)


def _model_spans(spans: Any) -> list[Any]:
    return [s for s in spans.all() if attrs(s).get("gen_ai.operation.name") in ("chat", "generate_content")]


def _only_model_span(spans: Any) -> Any:
    model = _model_spans(spans)
    assert len(model) == 1, [s.name for s in spans.all()]
    return model[0]


def _output(span: Any) -> list[dict[str, Any]]:
    return json.loads(attrs(span).get("gen_ai.output.messages", "[]"))


# --- what the payload says, read from the raw JSON (independently of our extractor) ------------------
def _payloads(fx: dict[str, Any]) -> list[dict[str, Any]]:
    r = fx["response"]
    if r["status"] >= 400:
        return []
    return [r["body"]] if r["sse"] is None else list(sse_events(r["sse"]))


def _raw_parts(fx: dict[str, Any]) -> list[tuple[int, dict[str, Any]]]:
    return [(c.get("index", i), p) for body in _payloads(fx) for i, c in enumerate(body.get("candidates") or [])
            for p in (c.get("content") or {}).get("parts") or []]


def expected_thoughts(fx: dict[str, Any]) -> list[str]:
    return [p["text"] for _, p in _raw_parts(fx) if p.get("thought") and len(p.get("text", "").strip()) >= 10]


def expected_blocks(fx: dict[str, Any]) -> int:
    """Contiguous runs of thought parts, per candidate (parts with empty text do not break a run)."""
    last: dict[int, bool] = {}
    runs = 0
    for index, part in _raw_parts(fx):
        if "text" in part and not part["text"]:
            continue
        thought = bool(part.get("thought"))
        runs += thought and not last.get(index, False)
        last[index] = thought
    return runs


def expected_calls(fx: dict[str, Any]) -> list[tuple[str | None, str, Any]]:
    return [(p["functionCall"].get("id"), p["functionCall"]["name"], p["functionCall"].get("args"))
            for _, p in _raw_parts(fx) if "functionCall" in p]


def expected_usage(fx: dict[str, Any]) -> dict[str, int]:
    usage: dict[str, Any] = {}
    for body in _payloads(fx):
        usage = body.get("usageMetadata") or usage
    out = {}
    if "promptTokenCount" in usage:
        out["input"] = usage["promptTokenCount"] + usage.get("toolUsePromptTokenCount", 0)
    if "candidatesTokenCount" in usage or "thoughtsTokenCount" in usage:
        out["output"] = usage.get("candidatesTokenCount", 0) + usage.get("thoughtsTokenCount", 0)
    if "thoughtsTokenCount" in usage:
        out["reasoning"] = usage["thoughtsTokenCount"]
    return out


def _signatures(fx: dict[str, Any]) -> list[str]:
    found = [p["thoughtSignature"] for _, p in _raw_parts(fx) if p.get("thoughtSignature")]
    for content in fx["request"]["body"]["contents"]:
        found += [p["thoughtSignature"] for p in content["parts"] if p.get("thoughtSignature")]
    return found


def _norm(text: str) -> str:
    return " ".join(text.split())


# --- every fixture -------------------------------------------------------------------------------------
def test_every_gemini_fixture_is_covered():
    assert len(FIXTURES) == 14


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("name", FIXTURES)
def test_replay(name, is_async, replay, instrumentation, spans):
    fx = load(name)
    result = bare_then_instrumented(lambda: _run(fx, replay, is_async), instrumentation, spans)
    model = _only_model_span(spans)
    model_name = _kwargs(fx)["model"]
    assert model.name == f"generate_content {model_name}"
    assert attrs(model)["gen_ai.operation.name"] == "generate_content"
    assert attrs(model)["gen_ai.provider.name"] == "gcp.gemini"
    assert attrs(model)["gen_ai.request.model"] == model_name
    assert attrs(model).get("gen_ai.request.stream", False) == fx["stream"]
    everything = json.dumps([dict(s.attributes or {}) for s in spans.all()])
    assert not any(sig[:40] in everything for sig in _signatures(fx)), "a thought signature was copied"

    if not result["ok"]:
        assert model.status.status_code.name == "ERROR"
        assert attrs(model)["error.type"] == result["exc"]
        assert not spans.reasoning()
        return
    assert model.status.status_code.name != "ERROR"

    reasoning = spans.reasoning()
    assert len(reasoning) == expected_blocks(fx) == attrs(model).get("cot.reasoning.count", 0)
    for span in reasoning:
        assert span.parent is not None and span.parent.span_id == model.context.span_id
        assert attrs(span)["cot.reasoning.source"] == "gemini.thought"
        assert model.start_time <= span.start_time <= span.end_time <= model.end_time
    blob = " ".join(_norm(str(attrs(s).get("cot.reasoning.content", ""))) for s in reasoning)
    for text in expected_thoughts(fx):
        snippet = _norm(secrets.redact(text)[0])[:80]
        assert snippet in blob, f"thought not captured: {snippet!r}"

    output = _output(model)
    assert all(m["role"] == "assistant" for m in output)
    calls = [p for m in output for p in m["parts"] if p["type"] == "tool_call"]
    assert [(c.get("id"), c["name"], c["arguments"]) for c in calls] == expected_calls(fx)

    usage = expected_usage(fx)
    assert attrs(model).get("gen_ai.usage.input_tokens") == usage.get("input")
    assert attrs(model).get("gen_ai.usage.output_tokens") == usage.get("output")
    assert attrs(model).get("gen_ai.usage.reasoning.output_tokens") == usage.get("reasoning")
    assert list(attrs(model)["gen_ai.response.finish_reasons"]) == ["stop"]
    if fx["stream"]:
        assert result["generator"]
        assert attrs(model)["cot.stream.outcome"] == "complete"
        assert attrs(model)["gen_ai.response.time_to_first_chunk"] >= 0


def test_function_responses_in_the_input_are_tool_call_responses(replay, spans):
    fx = load(TOOL_ROUND_TRIP[1])
    _run(fx, replay, is_async=False)
    messages = json.loads(attrs(_only_model_span(spans))["gen_ai.input.messages"])
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    assert messages[1]["parts"] == [{"type": "tool_call", "name": "get_current_weather",
                                     "arguments": {"location": "Boston, MA"}}]
    assert messages[2]["parts"] == [{"type": "tool_call_response", "response": {"result": "rainy"},
                                     "name": "get_current_weather"}]


def test_streamed_thoughts_are_one_block_timed_by_their_chunks(replay, spans):
    fx = load(THINKING_STREAM)
    replay.serve(dict(fx["response"], chunk_size=512))  # thoughts and text arrive over time
    client = _client(replay.url)
    chunks = list(client.models.generate_content_stream(**_kwargs(fx)))
    model = _only_model_span(spans)
    (reasoning,) = spans.reasoning()
    thoughts = "".join(p.text for c in chunks for p in c.candidates[0].content.parts if p.thought)
    assert attrs(reasoning)["cot.reasoning.content"] == thoughts
    assert model.start_time < reasoning.start_time < reasoning.end_time < model.end_time
    output = _output(model)[0]["parts"]
    assert [p["type"] for p in output] == ["reasoning", "text"]
    assert output[1]["content"] == "".join(p.text for c in chunks for p in c.candidates[0].content.parts
                                           if not p.thought)


# --- the shapes the SDK accepts -------------------------------------------------------------------------
def get_current_weather(location: str) -> str:
    """Returns the current weather."""
    return "rainy"


CONFIG = {
    "system_instruction": "Answer briefly.",
    "temperature": 0.2, "top_p": 0.9, "top_k": 40, "max_output_tokens": 256, "stop_sequences": ["END"],
    "seed": 7, "response_mime_type": "text/plain",
    "tools": [{"function_declarations": [{"name": "get_current_weather", "description": "Weather."}]}],
}


@pytest.mark.parametrize("config", [CONFIG, types.GenerateContentConfig(**CONFIG)], ids=["dict", "object"])
def test_request_config(config, replay, spans):
    replay.serve(load(TOOL_ROUND_TRIP[1])["response"])
    client = _client(replay.url)
    client.models.generate_content(model="gemini-2.0-flash-001", contents="Weather?", config=config)
    a = attrs(_only_model_span(spans))
    assert (a["gen_ai.request.temperature"], a["gen_ai.request.top_p"], a["gen_ai.request.top_k"]) == (0.2, 0.9, 40)
    assert a["gen_ai.request.max_tokens"] == 256 and a["gen_ai.request.seed"] == 7
    assert list(a["gen_ai.request.stop_sequences"]) == ["END"]
    assert a["gen_ai.output.type"] == "text"
    assert json.loads(a["gen_ai.system_instructions"]) == [{"type": "text", "content": "Answer briefly."}]
    (tool,) = json.loads(a["gen_ai.tool.definitions"])
    assert tool["function_declarations"][0]["name"] == "get_current_weather"


CONTENTS = [
    ("a string", "Hi there", [{"role": "user", "parts": [{"type": "text", "content": "Hi there"}]}]),
    ("strings", ["Hi", "there"],
     [{"role": "user", "parts": [{"type": "text", "content": "Hi"}, {"type": "text", "content": "there"}]}]),
    ("parts", [types.Part.from_text(text="Look:"),
               types.Part.from_bytes(data=b"\x89PNG", mime_type="image/png"),
               types.Part.from_uri(file_uri="gs://bucket/cat.jpg", mime_type="image/jpeg")],
     [{"role": "user", "parts": [{"type": "text", "content": "Look:"},
                                 {"type": "blob", "modality": "image", "mime_type": "image/png"},
                                 {"type": "uri", "modality": "image", "mime_type": "image/jpeg",
                                  "uri": "gs://bucket/cat.jpg"}]}]),
    ("contents", [types.Content(role="user", parts=[types.Part(text="Q")]),
                  types.Content(role="model", parts=[types.Part(text="thinking", thought=True),
                                                     types.Part(text="A", thought_signature=b"sig")]),
                  types.UserContent(parts=[types.Part.from_function_response(name="f", response={"x": 1})])],
     [{"role": "user", "parts": [{"type": "text", "content": "Q"}]},
      {"role": "assistant", "parts": [{"type": "reasoning", "content": "thinking"}, {"type": "text", "content": "A"}]},
      {"role": "user", "parts": [{"type": "tool_call_response", "response": {"x": 1}, "name": "f"}]}]),
    ("dicts", [{"role": "user", "parts": [{"text": "Q"}]},
               {"role": "model", "parts": [{"function_call": {"name": "f", "args": {"a": 1}, "id": "c1"}}]},
               {"role": "user", "parts": [{"functionResponse": {"name": "f", "id": "c1", "response": {"r": 2}}}]}],
     [{"role": "user", "parts": [{"type": "text", "content": "Q"}]},
      {"role": "assistant", "parts": [{"type": "tool_call", "name": "f", "id": "c1", "arguments": {"a": 1}}]},
      {"role": "user", "parts": [{"type": "tool_call_response", "response": {"r": 2}, "id": "c1", "name": "f"}]}]),
    ("strings then a content", ["a", "b", types.Content(role="model", parts=[types.Part(text="c")])],
     [{"role": "user", "parts": [{"type": "text", "content": "a"}, {"type": "text", "content": "b"}]},
      {"role": "assistant", "parts": [{"type": "text", "content": "c"}]}]),
]


@pytest.mark.parametrize("contents,expected", [c[1:] for c in CONTENTS], ids=[c[0] for c in CONTENTS])
def test_input_contents(contents, expected, replay, instrumentation, spans):
    fx = load(TOOL_ROUND_TRIP[1])
    client = _client(replay.url)
    instrumentation.off()
    replay.serve(fx["response"])
    bare = client.models.generate_content(model="gemini-2.0-flash-001", contents=contents)
    sent = replay.requests[-1]["body"]
    instrumentation.on()
    spans.clear()
    replay.serve(fx["response"])
    result = client.models.generate_content(model="gemini-2.0-flash-001", contents=contents)
    assert replay.requests[-1]["body"] == sent and _dump(result) == _dump(bare)
    assert json.loads(attrs(_only_model_span(spans))["gen_ai.input.messages"]) == expected


def test_automatic_function_calling_is_one_span_around_the_sdks_loop(replay, instrumentation, spans):
    """With Python functions as tools the SDK runs them and calls the model again, inside one call."""
    config = types.GenerateContentConfig(tools=[get_current_weather])
    client = _client(replay.url)
    instrumentation.off()
    replay.serve(*(load(n)["response"] for n in TOOL_ROUND_TRIP))
    bare = client.models.generate_content(model="gemini-2.0-flash-001", contents="Weather?", config=config)
    instrumentation.on()
    spans.clear()
    replay.serve(*(load(n)["response"] for n in TOOL_ROUND_TRIP))
    result = client.models.generate_content(model="gemini-2.0-flash-001", contents="Weather?", config=config)
    assert len(replay.requests) == 2 and _dump(result) == _dump(bare)
    model = _only_model_span(spans)
    assert _output(model)[0]["parts"] == [{"type": "text", "content": "It is rainy in Boston, MA.\n"}]
    definitions = json.loads(attrs(model)["gen_ai.tool.definitions"])
    assert definitions == [{"type": "function", "name": "get_current_weather",
                            "description": "Returns the current weather."}]


def test_vertex_ai_clients_name_their_provider():
    instance = SimpleNamespace(_api_client=SimpleNamespace(
        vertexai=True, _http_options=SimpleNamespace(base_url="https://us-central1-aiplatform.googleapis.com/")))
    request = generate_content.request(instance, {"model": "gemini-2.5-flash", "contents": "hi"})
    assert request.provider == "gcp.vertex_ai"
    assert request.attributes["server.address"] == "us-central1-aiplatform.googleapis.com"


def test_content_capture_off(replay, instrumentation, spans):
    instrumentation.on(Settings.from_env({"OTEL_COT_CAPTURE_CONTENT": "false"}))
    _run(load(THINKING), replay, is_async=False)
    model = _only_model_span(spans)
    (reasoning,) = spans.reasoning()
    assert not {"gen_ai.input.messages", "gen_ai.output.messages"} & set(attrs(model))
    assert "cot.reasoning.content" not in attrs(reasoning) and attrs(reasoning)["cot.reasoning.length"] > 10
    assert attrs(model)["gen_ai.usage.reasoning.output_tokens"] == 1754


# --- stream lifecycles -------------------------------------------------------------------------------------
_CLIENTS: list[genai.Client] = []


def _open_stream(replay, name=THINKING_STREAM):
    fx = load(name)
    replay.serve(fx["response"])
    _CLIENTS[:] = [_client(replay.url)]
    return _CLIENTS[0].models.generate_content_stream(**_kwargs(fx))


def test_stream_closed_after_first_chunk(replay, spans):
    stream = _open_stream(replay)
    first = next(stream)
    assert first.candidates[0].content.parts[0].thought
    assert _model_spans(spans) == []  # still open while the caller reads
    stream.close()
    span = _only_model_span(spans)
    # A plain generator gets the same GeneratorExit whether closed or collected.
    assert attrs(span)["cot.stream.outcome"] == "abandoned"
    assert span.status.status_code.name != "ERROR"
    (reasoning,) = spans.reasoning()
    assert attrs(reasoning)["cot.reasoning.content"] == first.candidates[0].content.parts[0].text
    stream.close()
    assert len(_model_spans(spans)) == 1


def test_abandoned_stream_still_ends_its_span(replay, spans):
    stream = _open_stream(replay)
    next(stream)
    del stream
    gc.collect()
    assert attrs(_only_model_span(spans))["cot.stream.outcome"] == "abandoned"


def test_caller_exception_in_loop_body(replay, spans):
    with pytest.raises(KeyError):
        for _chunk in _open_stream(replay, TOOLS_STREAM):
            raise KeyError("the caller's own bug")
    span = _only_model_span(spans)
    assert attrs(span)["cot.stream.outcome"] == "abandoned"
    assert span.status.status_code.name != "ERROR"
    assert [p["name"] for p in _output(span)[0]["parts"]] == ["get_weather"]  # what arrived is kept


def test_stream_error_before_the_first_chunk(replay, spans):
    stream = _open_stream(replay, NOT_FOUND_STREAM)
    assert inspect.isgenerator(stream)
    with pytest.raises(genai.errors.ClientError):
        next(stream)
    span = _only_model_span(spans)
    assert span.status.status_code.name == "ERROR"
    assert attrs(span)["error.type"] == "ClientError" and attrs(span)["cot.stream.outcome"] == "error"


def test_async_stream_closed_early(replay, spans):
    async def run():
        fx = load(THINKING_STREAM)
        replay.serve(fx["response"])
        client = _client(replay.url)
        stream = await client.aio.models.generate_content_stream(**_kwargs(fx))
        assert inspect.isasyncgen(stream)
        async for _chunk in stream:
            break
        await stream.aclose()

    asyncio.run(run())
    assert attrs(_only_model_span(spans))["cot.stream.outcome"] == "abandoned"
    assert len(spans.reasoning()) == 1


def test_async_stream_abandoned(replay, spans):
    async def run():
        fx = load(TOOLS_STREAM)
        replay.serve(fx["response"])
        client = _client(replay.url)
        stream = await client.aio.models.generate_content_stream(**_kwargs(fx))
        await stream.__anext__()
        del stream
        gc.collect()
        await asyncio.sleep(0.05)  # the loop runs the aclose() the collected generator asked for
        return attrs(_only_model_span(spans))["cot.stream.outcome"]

    assert asyncio.run(run()) == "abandoned"


# --- never break the host -------------------------------------------------------------------------------
NEVER_BREAK = [THINKING, THINKING_STREAM, TOOLS_STREAM, NOT_FOUND, NOT_FOUND_STREAM]
SABOTAGE = [
    (generate_content, "request"), (generate_content, "stream_request"), (generate_content, "response"),
    (generate_content, "part_of"),
    (generate_content.GenerateContentStreamAccumulator, "add"),
    (generate_content.GenerateContentStreamAccumulator, "result"),
    (_wrappers, "recorded_iterator"),
    (ModelCall, "__init__"), (ModelCall, "activate"), (ModelCall, "finish"), (ModelCall, "first_chunk"),
    (ModelCall, "_emit_reasoning_spans"),
]
_BARE: dict[tuple[str, bool], dict[str, Any]] = {}


def _boom(*args, **kwargs):
    raise RuntimeError("otel-cot bug injected by the test")


@pytest.mark.expects_internal_errors
@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("owner,attribute", SABOTAGE, ids=[f"{getattr(o, '__name__', o)}.{a}" for o, a in SABOTAGE])
def test_results_unchanged_when_our_code_raises(owner, attribute, is_async, replay, instrumentation, spans,
                                                internal_errors, monkeypatch):
    for name in NEVER_BREAK:
        if (name, is_async) not in _BARE:
            instrumentation.off()
            _BARE[name, is_async] = _run(load(name), replay, is_async)
    monkeypatch.setattr(owner, attribute, _boom)
    instrumentation.on()  # adapters capture their functions when instrumenting
    for name in NEVER_BREAK:
        assert _run(load(name), replay, is_async) == _BARE[name, is_async], name
    assert internal_errors, "the injected failure was never reached"


def test_uninstrument_restores_the_original_methods(instrumentation):
    import wrapt
    from google.genai.models import AsyncModels, Models

    targets = [(cls, method) for cls in (Models, AsyncModels)
               for method in ("generate_content", "generate_content_stream")]
    assert all(isinstance(vars(cls)[method], wrapt.FunctionWrapper) for cls, method in targets)
    instrumentation.off()
    assert not any(isinstance(vars(cls)[method], wrapt.FunctionWrapper) for cls, method in targets)
