"""The compiled field setter (``otel_cot._construct``) against the dataclass constructor it replaces in
``views_from_record``: equal views with the same instance dict (same keys in the same order, no larger), still
frozen; and for records, what ``SpanRecord.of`` gives."""

from __future__ import annotations

import dataclasses
import json
import sys

import pytest

from otel_cot import semconv
from otel_cot.detectors import SpanRecord
from otel_cot.detectors.base import SpanView
from otel_cot.detectors.views import views_from_record
from tests.support.native import compiled

FIELDS = [f.name for f in dataclasses.fields(SpanView)]


@pytest.fixture(scope="module")
def setter():
    return compiled("otel_cot._construct").FieldSetter(SpanView, tuple(FIELDS))


def _values(i: int) -> tuple:
    attrs = {"gen_ai.tool.name": "bash", "n": i}
    return (["tool_call", "reasoning", "user"][i % 3], f"text {i}" * (i % 4), "bash" if i % 2 else None,
            '{"command": "ls"}' if i % 3 else None, "exit_1" if i % 5 == 0 else None, "ab" * 16, "cd" * 8,
            f"span {i}", i, i + 1, semconv.GEN_AI_TOOL_CALL_ARGUMENTS, f"call_{i}" if i % 2 else None, attrs)


def test_the_setter_makes_the_view_the_constructor_makes(setter):
    for i in range(50):
        values = _values(i)
        made, fast = SpanView(*values), setter(*values)
        assert type(fast) is SpanView and fast == made and repr(fast) == repr(made)
        assert list(vars(fast)) == list(vars(made)) == FIELDS
        assert all(getattr(fast, name) is value for name, value in zip(FIELDS, values))
        assert sys.getsizeof(vars(fast)) <= sys.getsizeof(vars(made))
        with pytest.raises(dataclasses.FrozenInstanceError):
            fast.text = "changed"  # type: ignore[misc]


def test_held_views_keep_the_key_shared_instance_dict(setter):
    # A dict set at once is not key-shared and ~336 bytes larger: the setter must fill the shared one.
    made, fast = SpanView(*_values(1)), setter(*_values(1))
    at_once = object.__new__(SpanView)
    object.__setattr__(at_once, "__dict__", dict(zip(FIELDS, _values(1))))
    assert sys.getsizeof(vars(fast)) == sys.getsizeof(vars(made)) < sys.getsizeof(vars(at_once))


def test_views_from_record_gives_what_the_constructor_gives():
    attrs = {
        semconv.COT_REASONING_CONTENT: "think",
        semconv.GEN_AI_INPUT_MESSAGES: json.dumps([{"role": "user", "parts": [{"type": "text", "content": "go"}]}]),
        semconv.GEN_AI_OUTPUT_MESSAGES: json.dumps([{"role": "assistant", "parts": [
            {"type": "text", "content": "ok"}, {"type": "tool_call", "id": "c1", "name": "bash", "arguments": {}}]}]),
        semconv.GEN_AI_TOOL_NAME: "bash", semconv.GEN_AI_TOOL_CALL_ID: "c2",
        semconv.GEN_AI_TOOL_CALL_ARGUMENTS: "{}", semconv.GEN_AI_TOOL_CALL_RESULT: "ok", semconv.ERROR_TYPE: "x",
    }
    views = list(views_from_record(SpanRecord("ab" * 16, "cd" * 8, "chat m", attrs, 5, 9, None)))
    assert len(views) == 6
    for view in views:
        made = SpanView(**{name: getattr(view, name) for name in FIELDS})
        assert view == made and list(vars(view)) == list(vars(made))
        assert sys.getsizeof(vars(view)) <= sys.getsizeof(vars(made))


def test_the_setter_makes_the_record_of_makes():
    make = compiled("otel_cot._construct").FieldSetter(SpanRecord, tuple(f.name for f in
                                                                       dataclasses.fields(SpanRecord)))
    values = ("ab" * 16, "cd" * 8, "n", {"k": 1}, 1, 2, None)
    assert make(*values) == SpanRecord.of(*values) == SpanRecord(*values)


def test_the_setter_checks_its_calls(setter):
    with pytest.raises(TypeError, match="expected 13 field values, got 1"):
        setter("tool_call")
    with pytest.raises(TypeError, match="positional"):
        setter(*_values(1)[:12], attributes={})
    FieldSetter = compiled("otel_cot._construct").FieldSetter
    with pytest.raises(TypeError):
        FieldSetter(SpanView, ("kind", 1))

    class OwnNew:
        def __new__(cls):
            return super().__new__(cls)

    with pytest.raises(TypeError, match="own __new__"):
        FieldSetter(OwnNew, ())
