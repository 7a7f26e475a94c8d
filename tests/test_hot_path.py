"""The fast paths of the per-call and per-chunk code give exactly what the generic code gives.

(bench/sdk_telemetry.py checks the same end to end: every span over every fixture, before and after.)
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

import pytest

from otel_cot import content, secrets, values
from otel_cot.config import Settings
from otel_cot.content import ContentBudget
from otel_cot.instrumentation._endpoint import endpoint_attributes, provider_for

from .support.expected import sse_events
from .support.fixtures import index, load

_MISSING = object()


def _reference_get(obj: Any, name: str, default: Any = None) -> Any:
    """``get`` as it was before the fast path: getattr, then the mapping's own get."""
    if obj is None:
        return default
    if type(obj) is dict:
        return obj.get(name, default)
    value = getattr(obj, name, _MISSING)
    if value is not _MISSING:
        return value
    return obj.get(name, default) if isinstance(obj, Mapping) else default


def _sdk_objects() -> list[Any]:
    """Every pydantic object the SDKs build from the recorded responses and stream events."""
    from anthropic.types import Message, RawMessageStreamEvent
    from openai.types.chat import ChatCompletion, ChatCompletionChunk
    from openai.types.responses import Response, ResponseStreamEvent
    from pydantic import BaseModel, TypeAdapter

    types = {("chat.completions", False): ChatCompletion, ("chat.completions", True): ChatCompletionChunk,
             ("responses", False): Response, ("responses", True): ResponseStreamEvent,
             ("messages", False): Message, ("messages", True): RawMessageStreamEvent}
    out: list[Any] = []

    def walk(value: Any) -> None:
        if isinstance(value, BaseModel):
            out.append(value)
            for field in list(type(value).model_fields) + list(value.__pydantic_extra__ or {}):
                walk(getattr(value, field, None))
        elif isinstance(value, (list, tuple)):
            for v in value:
                walk(v)

    for entry in index():
        key = (entry["api"], bool(entry.get("stream")))
        if key not in types:
            continue
        fx = load(entry["file"])
        response = fx["response"]
        if response["status"] >= 400:
            continue
        adapter = TypeAdapter(types[key])
        payloads = list(sse_events(response["sse"])) if response.get("sse") else [response["body"]]
        for payload in payloads:
            try:
                walk(adapter.validate_python(payload))
            except Exception:  # an event shape this SDK version does not model
                continue
    return out


NAMES = ["type", "id", "index", "delta", "text", "thinking", "content", "choices", "usage", "model", "reasoning",
         "reasoning_content", "reasoning_details", "refusal", "tool_calls", "function", "name", "arguments",
         "output_index", "item", "response", "output", "summary", "encrypted_content", "stop_reason", "message",
         "input_tokens", "output_tokens", "partial_json", "content_block", "finish_reason", "status", "json", "copy",
         "model_dump", "_private", "__dict__", "__class__", "not_a_field", "signature", "citations"]


def test_get_and_reader_match_getattr_semantics_on_every_sdk_object():
    objects = _sdk_objects()
    assert len(objects) > 2000
    for obj in objects:
        for name in NAMES:
            expected = _reference_get(obj, name, "dflt")
            got = values.get(obj, name, "dflt")
            assert got is expected or (callable(expected) and got == expected), (type(obj), name)  # bound methods
            if name in type(obj).model_fields:
                assert values.reader(obj)(obj, name, "dflt") is expected, (type(obj), name)


def test_get_steps_aside_for_properties_private_attributes_and_mappings():
    from pydantic import BaseModel, ConfigDict, PrivateAttr

    class Model(BaseModel):
        model_config = ConfigDict(extra="allow")
        a: int = 1
        _secret: str = PrivateAttr(default="p")

        @property
        def b(self) -> str:
            return "property"

    class MappingModel(Model, Mapping):  # type: ignore[misc]
        def __getitem__(self, key: str) -> Any:
            return {"m": "mapped"}[key]

        def __iter__(self):
            return iter(["m"])

        def __len__(self) -> int:
            return 1

    m = Model(extra_field="x")
    for name in ("a", "b", "_secret", "extra_field", "missing", "model_config"):
        assert values.get(m, name, "d") == _reference_get(m, name, "d"), name
    mm = MappingModel()
    assert values.get(mm, "m") == "mapped" == _reference_get(mm, "m")
    assert values.reader(mm) is values.get and values.reader({}) is values.get and values.reader(m) is getattr
    assert values.get(None, "a", 5) == 5 and values.reader(None)(None, "a", 5) == 5


def _generic_clean(value: Any, budget: ContentBudget, depth: int = 0) -> Any:
    return content.clean_value_generic(value, budget, depth)


@pytest.mark.parametrize("limit", [5, 40, 10_000])
def test_clean_value_fast_path_equals_the_generic_one(limit):
    rnd = random.Random(limit)
    settings = Settings.from_env({}, max_content_length=limit)
    words = ["x", "role", "name", "AKIAIOSFODNN7EXAMPLE", "password=hunter2hunter2", "hello world " * 5, "", "é" * 9,
             "ghp_abcdefghijklmnopqrstuvwxyz0123456789", "type", "tool_call"]

    def value(depth: int) -> Any:
        r = rnd.random()
        if depth > 10 or r < 0.35:
            return rnd.choice([rnd.choice(words), 3, 2.5, True, None, ("t", "u")])
        if r < 0.7:
            return {rnd.choice(["type", "role", "id", "content", "name", "args", 7]): value(depth + 1)
                    for _ in range(rnd.randint(0, 4))}
        return [value(depth + 1) for _ in range(rnd.randint(0, 4))]

    for _ in range(400):
        v = value(0)
        before = repr(v)
        fast, slow = ContentBudget(settings), ContentBudget(settings)
        # the reference: the old recursion, which recursed through clean_value only
        assert content.to_json(content.clean_value(v, fast)) == content.to_json(_old_clean_value(v, slow))
        assert (fast.truncated, fast.redacted) == (slow.truncated, slow.redacted)
        assert repr(v) == before  # copied where cleaned, never changed in place


def _old_clean_value(value: Any, budget: ContentBudget, depth: int = 0) -> Any:
    if isinstance(value, str):
        return budget(value)
    if value is None or isinstance(value, (bool, int, float)) or depth > 8:
        return value
    if isinstance(value, dict):
        return {k: v if k in content.STRUCTURAL_KEYS and type(v) is str and len(v) <= content.STRUCTURAL_MAX
                else _old_clean_value(v, budget, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_old_clean_value(v, budget, depth + 1) for v in value]
    return _old_clean_value(values.plain(value), budget, depth + 1)


def test_budget_text_equals_clean():
    for limit in (3, 8, 100):
        settings = Settings.from_env({}, max_content_length=limit)
        a, b = ContentBudget(settings), ContentBudget(settings)
        for text in ["", "ab", "abcdefg", "abcdefgh", "token=abcdefghijkl", "x" * 200, "ab"]:
            assert a.text(text) == b(text)
        assert (a.truncated, a.redacted) == (b.truncated, b.redacted)


def test_redact_prefilter_agrees_with_find_secrets():
    rnd = random.Random(7)
    pieces = ["sk-", "proj-", "AKIA", "IOSFODNN7EXAMPLE", "password", "=", ": ", "hunter2hunter2", " ", "\n", "ghp_",
              "a" * 36, "eyJ", "hbGciOiJIUzI1NiJ9", ".", "token", "Bearer ", "https://u:p@h.com/", "hello", "KEY"]
    for _ in range(3000):
        text = "".join(rnd.choice(pieces) for _ in range(rnd.randint(0, 12)))
        matches = secrets.find_secrets(text)
        redacted, count = secrets.redact(text)
        assert count == len(matches)
        if not matches:
            assert redacted == text


def test_endpoint_memo_returns_fresh_dicts():
    a = endpoint_attributes("https://api.deepseek.com/v1")
    a["x"] = 1
    assert endpoint_attributes("https://api.deepseek.com/v1") == {"server.address": "api.deepseek.com",
                                                                  "server.port": 443}
    assert provider_for("https://api.deepseek.com/v1", "openai") == "deepseek"
    assert provider_for(None, "openai") == "openai"


def test_absent_only_when_every_field_reads_as_missing():
    from pydantic import BaseModel, ConfigDict

    class Extra(BaseModel):
        model_config = ConfigDict(extra="allow")
        content: str | None = None

    objects = _sdk_objects() + [Extra(), Extra(reasoning="r"), Extra(reasoning_content=None), {"reasoning": "x"}, None]
    names = ("reasoning_content", "reasoning", "reasoning_details")
    told = 0
    for obj in objects:
        if values.absent(obj, names):
            told += 1
            assert all(_reference_get(obj, n, _MISSING) is _MISSING for n in names), type(obj)
    assert told > 100
    assert not values.absent(Extra(reasoning="r"), names) and not values.absent(Extra(reasoning_content=None), names)
    assert not values.absent({"reasoning": "x"}, names)


class _Tool:
    def __str__(self) -> str:
        return "tool object"


@pytest.mark.parametrize("limit", [12, 10_000])
def test_static_json_memo_equals_cleaning_each_time(limit):
    settings = Settings.from_env({}, max_content_length=limit)
    values = [
        [{"type": "function", "function": {"name": "f", "description": "use AKIAIOSFODNN7EXAMPLE", "n": 1}}],
        [{"type": "function", "function": {"name": "f", "description": "use AKIAIOSFODNN7EXAMPLE", "n": 1.0}}],
        [{"type": "function", "function": {"name": "f", "description": "use AKIAIOSFODNN7EXAMPLE", "n": True}}],
        [{"type": "text", "content": "You are a careful assistant. " * 3}],
        [{"type": "function", "x": _Tool()}],  # not plain JSON: cleaned every time
        ({"type": "text", "content": "tuple of parts"},),
    ]
    for _ in range(3):  # the first round fills the memo, the next ones read it
        for value in values:
            memo, plain_budget = ContentBudget(settings), ContentBudget(settings)
            memo.redacted, plain_budget.redacted = 2, 2  # flags from earlier values of the same span add up
            assert content.static_json(value, memo) == content.to_json(content.clean_value(value, plain_budget))
            assert (memo.truncated, memo.redacted) == (plain_budget.truncated, plain_budget.redacted)
