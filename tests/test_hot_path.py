"""The fast paths of the per-call and per-chunk code give exactly what the generic code gives.

(bench/sdk_telemetry.py checks the same end to end: every span over every fixture, before and after.)
"""

from __future__ import annotations

import json
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


def _collect_models(value: Any, out: list[Any]) -> None:
    """Append ``value`` and every pydantic object inside it (fields, extras, lists) to ``out``."""
    from pydantic import BaseModel

    if isinstance(value, BaseModel):
        out.append(value)
        for field in list(type(value).model_fields) + list(value.__pydantic_extra__ or {}):
            _collect_models(getattr(value, field, None), out)
    elif isinstance(value, (list, tuple)):
        for v in value:
            _collect_models(v, out)


def _sdk_objects() -> list[Any]:
    """Every pydantic object the SDKs build from the recorded responses and stream events."""
    from anthropic.types import Message, RawMessageStreamEvent
    from openai.types.chat import ChatCompletion, ChatCompletionChunk
    from openai.types.responses import Response, ResponseStreamEvent
    from pydantic import TypeAdapter

    types = {("chat.completions", False): ChatCompletion, ("chat.completions", True): ChatCompletionChunk,
             ("responses", False): Response, ("responses", True): ResponseStreamEvent,
             ("messages", False): Message, ("messages", True): RawMessageStreamEvent}
    out: list[Any] = []

    def walk(value: Any) -> None:
        _collect_models(value, out)

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


def _sdk_parsed_objects() -> list[Any]:
    """Every pydantic object the SDKs themselves build (their own ``construct``, not validation) from the recorded
    responses, through the real client over an in-memory transport."""
    import anthropic
    import httpx2
    import openai

    from .support.calls import kwargs_for
    from .support.fixtures import is_beta

    out: list[Any] = []

    def walk(value: Any) -> None:
        _collect_models(value, out)

    for entry in index():
        fx = load(entry["file"])
        response = fx["response"]
        if entry["api"] not in ("chat.completions", "responses", "messages") or response["status"] >= 400:
            continue
        body = (response["sse"] or "").encode() if response.get("sse") is not None else json.dumps(response["body"]).encode()
        ctype = "text/event-stream" if response.get("sse") is not None else "application/json"
        http = httpx2.Client(transport=httpx2.MockTransport(
            lambda request, body=body, ctype=ctype: httpx2.Response(200, headers={"content-type": ctype}, content=body)))
        if entry["api"] == "messages":
            client = anthropic.Anthropic(api_key="k", base_url="http://127.0.0.1:9", max_retries=0, http_client=http)
            resource: Any = client.beta.messages if is_beta(fx) else client.messages
        else:
            client = openai.OpenAI(api_key="k", base_url="http://127.0.0.1:9/v1", max_retries=0, http_client=http)
            resource = client.chat.completions if entry["api"] == "chat.completions" else client.responses
        try:
            result = resource.create(**kwargs_for(resource.create, dict(fx["request"]["body"])))
            walk(list(result) if fx["request"]["body"].get("stream") else result)
        except Exception:  # a shape this SDK version does not parse
            continue
    return out


def test_get_matches_getattr_semantics_on_every_sdk_object():
    objects = _sdk_objects()
    assert len(objects) > 2000
    for obj in objects:
        for name in NAMES:
            expected = _reference_get(obj, name, "dflt")
            got = values.get(obj, name, "dflt")
            assert got is expected or (callable(expected) and got == expected), (type(obj), name)  # bound methods


def _read(fields: values.Fields, obj: Any) -> dict[str, Any]:
    """What the stream accumulators read: ``name -> value`` for each of ``fields``' names and extras."""
    if type(obj) in fields.direct:
        extra = getattr(obj, "__pydantic_extra__", None) or {}
        return {**{n: obj.__dict__.get(n) for n in fields.names}, **{n: extra.get(n) for n in fields.extras}}
    found = fields.of(obj)
    return {n: found.get(n) for n in fields.names + fields.extras}


def test_fields_read_exactly_what_get_reads_on_every_sdk_object():
    from otel_cot.instrumentation.anthropic import messages
    from otel_cot.instrumentation.openai import chat, responses

    field_sets = [messages._EVENT, messages._DELTA, *(f for _, _, f in messages._DELTA_TEXTS.values()),
                  responses._EVENT, chat._CHUNK, chat._CHOICE, chat._DELTA, chat._CALL, chat._FUNCTION,
                  values.Fields("type", "id", extras=("reasoning", "text")), values.Fields("type", "model_dump")]
    objects = _sdk_objects() + _sdk_parsed_objects()
    assert len(objects) > 4000
    for fields in field_sets:
        for obj in objects:
            fields.of(obj)  # first sight of each class: classified
            for name, got in _read(fields, obj).items():
                expected = _reference_get(obj, name)
                assert got is expected or (callable(expected) and got == expected), (type(obj), fields.names, name)
    assert sum(len(f.direct) for f in field_sets) > 30  # the instance-dict path is taken
    assert not field_sets[-1].direct  # never past a method of the class


def _as_mapping(model: type) -> type:
    """A subclass of the pydantic ``model`` that is also a Mapping with one key, "m"."""

    class MappingModel(model, Mapping):  # type: ignore[misc, valid-type]
        def __getitem__(self, key: str) -> Any:
            return {"m": "mapped"}[key]

        def __iter__(self):
            return iter(["m"])

        def __len__(self) -> int:
            return 1

    return MappingModel


def test_get_steps_aside_for_properties_private_attributes_and_mappings():
    from pydantic import BaseModel, ConfigDict, PrivateAttr

    class Model(BaseModel):
        model_config = ConfigDict(extra="allow")
        a: int = 1
        _secret: str = PrivateAttr(default="p")

        @property
        def b(self) -> str:
            return "property"

    MappingModel = _as_mapping(Model)

    m = Model(extra_field="x")
    for name in ("a", "b", "_secret", "extra_field", "missing", "model_config"):
        assert values.get(m, name, "d") == _reference_get(m, name, "d"), name
    mm = MappingModel()
    assert values.get(mm, "m") == "mapped" == _reference_get(mm, "m")
    assert values.get(None, "a", 5) == 5


def test_fields_step_aside_for_extras_aliases_properties_private_attributes_and_mappings():
    from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

    class Model(BaseModel):
        model_config = ConfigDict(extra="allow", populate_by_name=False)
        a: int = 1
        aliased: str | None = Field(default="default", alias="other")
        _secret: str = PrivateAttr(default="p")

        @property
        def b(self) -> str:
            return "property"

    MappingModel = _as_mapping(Model)

    cases = [Model(), Model(extra_field="x"), Model(other="via alias", aliased="as extra"),
             Model.model_construct(extra_field="y"), MappingModel(m=1), {"a": 2, "extra_field": "z"}, None, object()]
    for fields in [values.Fields("a"), values.Fields("a", extras=("extra_field", "aliased")), values.Fields("aliased"),
                   values.Fields("a", "b"), values.Fields("a", "_secret"), values.Fields("m", "a"),
                   values.Fields("missing"), values.Fields("a", extras=("a",))]:
        for obj in cases:
            fields.of(obj)
            for name, got in _read(fields, obj).items():
                assert got == _reference_get(obj, name), (obj, fields.names, name)
    direct = values.Fields("a", extras=("extra_field",))
    direct.of(Model())
    assert Model in direct.direct  # the dict path, reading the extras from __pydantic_extra__
    for fields in [values.Fields("a", "b"), values.Fields("a", "_secret"), values.Fields("a"),
                   values.Fields("a", extras=("a",)), values.Fields("missing")]:
        fields.of(Model())
        fields.of(MappingModel())
        assert MappingModel not in fields.direct
    not_direct = [values.Fields("a", "b"), values.Fields("a", "_secret"), values.Fields("a", extras=("a",)),
                  values.Fields("missing")]
    for fields in not_direct:  # a property, a private attribute, a declared "extra", an undeclared field
        assert Model not in fields.direct


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


# Pieces that come close to a secret, whole or cut at a part boundary: a key and its value, a scheme and its
# token, a keyword and its separator, the two halves of "sk-" and of a URL with credentials.
_NEAR_SECRETS = ["sk", "-", "proj-", "sk-proj-", "a" * 36, "AKIA", "IOSFODNN7EXAMPLE", "password", "=", ": ", " ",
                 "hunter2hunter2", "ghp_", "eyJ", "hbGciOiJIUzI1NiJ9", ".", "token", "Bearer ", "https://u:p",
                 "@h.com/", "KEY", "key", "\t", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "a", "--api-key", "\"",
                 "-----BEGIN ", "RSA PRIVATE KEY-----", "xoxb-", "hooks", ".slack.com/", "basic ", "auth", "u"]


def test_no_trigger_spans_a_line_break():
    """What ``ContentBudget.clean_joined`` relies on: a join with line breaks may hold a secret only if a part may."""
    rnd = random.Random(11)
    for _ in range(20000):
        parts = ["".join(rnd.choice(_NEAR_SECRETS) for _ in range(rnd.randint(0, 6))) for _ in range(rnd.randint(1, 4))]
        separator = rnd.choice(["\n", "\n\n", "\n\n\n"])
        joined = separator.join(parts)
        assert secrets.may_contain_secret(joined) == any(secrets.may_contain_secret(p) for p in parts), (parts, separator)
        assert secrets.may_contain_secret(joined) == bool(secrets._TRIGGER_RX.search(joined))


@pytest.mark.parametrize("limit", [12, 100, 10_000])
def test_clean_joined_equals_cleaning_the_join(limit):
    rnd = random.Random(limit)
    settings = Settings.from_env({}, max_content_length=limit)
    shortcut = 0
    for _ in range(3000):
        parts = ["".join(rnd.choice(_NEAR_SECRETS + ["word "] * 20) for _ in range(rnd.randint(1, 8)))
                 for _ in range(rnd.randint(1, 4))]
        separator = rnd.choice(["\n\n", "\n\n", "\n", " ", ""])
        a, b = ContentBudget(settings), ContentBudget(settings)
        for part in parts:  # as the output messages would, first
            assert a.clean(part) == b.clean(part)
        assert a.clean_joined(parts, separator) == b.clean(separator.join(parts))
        assert (a.truncated, a.redacted) == (b.truncated, b.redacted)
        if separator.strip("\n") == "" and separator and all(not secrets.may_contain_secret(p) and len(p) >= 8
                                                                for p in parts):
            shortcut += 1
    assert shortcut > 300  # the cases where the join is not scanned again


def test_clean_joined_scans_nothing_twice(monkeypatch):
    settings = Settings.from_env({})
    parts = ["First, think about the primes below 400 that contain 79.", "Then check 179, 379 and 797 one by one."]
    budget = ContentBudget(settings)
    for part in parts:
        budget.clean(part)
    scanned = []
    monkeypatch.setattr(secrets, "may_contain_secret", lambda text: scanned.append(text) or True)
    result = budget.clean_joined(parts, "\n\n")
    assert result.text == "\n\n".join(parts) and scanned == []
    assert budget.clean_joined(parts, " ").text == " ".join(parts) and scanned == [" ".join(parts)]  # not line breaks


def test_endpoint_memo_returns_fresh_dicts():
    a = endpoint_attributes("https://api.deepseek.com/v1")
    a["x"] = 1
    assert endpoint_attributes("https://api.deepseek.com/v1") == {"server.address": "api.deepseek.com",
                                                                  "server.port": 443}
    assert provider_for("https://api.deepseek.com/v1", "openai") == "deepseek"
    assert provider_for(None, "openai") == "openai"


def test_base_url_text_memo_follows_the_client_and_keeps_only_immutable_urls(monkeypatch):
    openai = pytest.importorskip("openai")
    from otel_cot.instrumentation._endpoint import base_url_of

    url_type = type(openai.OpenAI(api_key="k", base_url="http://a.example/v1").base_url)
    built = []
    real_str = url_type.__str__
    monkeypatch.setattr(url_type, "__str__", lambda self: built.append(1) or real_str(self))
    client = openai.OpenAI(api_key="k", base_url="http://a.example/v1")
    assert [base_url_of(client.chat.completions) for _ in range(3)] == ["http://a.example/v1/"] * 3
    assert len(built) == 1  # the text is built once per URL object
    client.base_url = "http://b.example/v2"
    assert base_url_of(client.chat.completions) == "http://b.example/v2/"

    class MutableUrl:
        text = "http://c.example/"

        def __str__(self) -> str:
            return self.text

    class Resource:
        class _client:
            base_url = MutableUrl()

    assert base_url_of(Resource()) == "http://c.example/"
    Resource._client.base_url.text = "http://d.example/"
    assert base_url_of(Resource()) == "http://d.example/"  # not an httpx URL: not remembered


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


def test_messages_accumulator_reads_plain_dict_events_and_odd_delta_types():
    from otel_cot.instrumentation.anthropic.messages import MessagesStreamAccumulator

    acc = MessagesStreamAccumulator()
    events = [{"type": "message_start", "message": {"id": "m", "model": "claude", "usage": {"input_tokens": 3}}},
              {"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": ""}},
              {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "a"}},
              {"type": "content_block_delta", "index": 0, "delta": {"type": ["not", "hashable"]}},
              {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "b"}},
              {"type": "content_block_stop", "index": 0}]
    for n, event in enumerate(events):
        acc.add(event, n)
    result = acc.result()
    assert [b.text for b in result.reasoning] == ["ab"] and result.input_tokens == 3


def test_may_contain_secret_answers_as_the_trigger_regex_for_every_alternative():
    """``may_contain_secret`` searches with a regrouped, reordered trigger regex: same answer, every alternative hit."""
    rnd = random.Random(5)
    pieces = _NEAR_SECRETS + ["pypi-AgE", "github_pat_", "glpat-", "hf_", "npm_", "gho_", "x", "xapp-", "AIza", "ASIA",
                              "ACCA", "cookie", "secret", "creds", "credentials", "Authorization", "AUTH", "passphrase",
                              "pwd", "Password", "PASSWD", "COOKIE", "Key", "SECRET", "Creds", "rk_live_", "sk_test_", "hooks.slack.com/",
                              "ftp://", "c", "C", "P", "U", "B", "K", "J", ":=", "=>", "'", "]", "\\", ",", "the ", "9"]
    hit = set()
    for _ in range(30000):
        text = "".join(rnd.choice(pieces) for _ in range(rnd.randint(0, 10)))
        match = secrets._TRIGGER_RX.search(text)
        assert secrets.may_contain_secret(text) == (match is not None), text
        if match is not None:
            hit.add(match.lastindex)
    assert hit == set(range(1, len(secrets._ALTERNATIVES) + 1))


def test_the_regrouped_trigger_regex_refuses_an_alternative_without_a_literal_anchor():
    with pytest.raises(ValueError):
        secrets._by_anchor(["k-", "[ab]c"], "k", mark=False)
    with pytest.raises(ValueError):
        secrets._by_anchor(["k+-"], "k", mark=True)


def test_find_secrets_search_loop_finds_the_trigger_regex_s_matches_and_alternatives():
    """``find_secrets`` searches with the regrouped trigger regex whose empty groups are mapped back to the
    alternatives: from every position, the same match and the same alternative as ``_TRIGGER_RX``'s regex."""
    rnd = random.Random(8)
    pieces = _NEAR_SECRETS + ["pypi-AgE", "github_pat_", "glpat-", "hf_", "npm_", "gho_", "xoxb-", "xapp-", "AIza",
                              "AKIA", "cookie", "secret", "creds", "Authorization", "passphrase", "pwd", "Password",
                              "token", "TOKEN", "Key", "key", "rk_live_", "sk-", "hooks.slack.com/", "https://u:p@h",
                              "SECRET", "CREDS", "AUTH", "auth",
                              "Bearer ", "basic\t", "--api-key ", "-----BEGIN ", "eyJ", "c", "k", ":", "=", ": ", "'",
                              "\"", "]", " ", "\n", "x", "9", "é"]
    plain = secrets._TRIGGER_RX.regex
    hit = set()
    for _ in range(20000):
        text = "".join(rnd.choice(pieces) for _ in range(rnd.randint(0, 12)))
        for pos in range(0, len(text) + 1, max(1, len(text) // 6)):
            want, got = plain.search(text, pos), secrets._TRIGGER_SEARCH.search(text, pos)
            assert (got and got.span()) == (want and want.span()), (text, pos)
            if want is not None:
                assert secrets._SEARCH_NAMES[got.lastindex - 1] == want.lastindex - 1, (text, pos)
                hit.add(want.lastindex)
    assert hit == set(range(1, len(secrets._ALTERNATIVES) + 1))
