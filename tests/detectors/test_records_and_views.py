"""The per-span constructors: ``SpanRecord.of`` (the collector's) makes what the dataclass constructor
makes, and ``views_from_record`` (which passes a view's fields by position) puts every field where the
keyword form would."""

from __future__ import annotations

import dataclasses
import json

import pytest

from otel_cot import semconv
from otel_cot.detectors import SpanRecord
from otel_cot.detectors.base import SpanView
from otel_cot.detectors.views import views_from_record

CASES = [
    ("0" * 31 + "1", "00000000000000aa", "execute_tool bash",
     {"gen_ai.tool.name": "bash", "gen_ai.tool.call.arguments": '{"command": "ls"}',
      "gen_ai.tool.call.result": "a\nb"}, 10, 20, "00000000000000bb"),
    ("ab" * 16, "cd" * 8, "", {}, 0, 0, None),
]


@pytest.mark.parametrize("values", CASES)
def test_of_gives_the_record_the_constructor_gives(values):
    names = [f.name for f in dataclasses.fields(SpanRecord)]
    made = SpanRecord(**dict(zip(names, values)))
    fast = SpanRecord.of(*values)
    assert type(fast) is SpanRecord
    assert fast == made and repr(fast) == repr(made)
    assert dataclasses.astuple(fast) == dataclasses.astuple(made)
    assert list(views_from_record(fast)) == list(views_from_record(made))
    with pytest.raises(dataclasses.FrozenInstanceError):
        fast.name = "changed"  # type: ignore[misc]


def test_of_only_bypasses_what_the_constructor_would_do():
    # SpanRecord.of sets the instance dict directly: valid only while the record has no __post_init__,
    # no __slots__ and the seven fields it fills in (a new field must be added to of() too)
    assert not hasattr(SpanRecord, "__post_init__") and "__slots__" not in vars(SpanRecord)
    assert [f.name for f in dataclasses.fields(SpanRecord)] == [
        "trace_id", "span_id", "name", "attributes", "start_time_ns", "end_time_ns", "parent_span_id"]


def test_every_view_field_is_the_one_its_name_says():
    attrs = {
        semconv.COT_REASONING_CONTENT: "think first",
        semconv.GEN_AI_INPUT_MESSAGES: json.dumps([
            {"role": "system", "parts": [{"type": "text", "content": "be careful"}]},
            {"role": "user", "parts": [{"type": "text", "content": "fix it"}]},
            {"role": "tool", "parts": [{"type": "tool_call_response", "id": "c0", "name": "read",
                                        "response": "file text"}, {"type": "text", "content": "raw tool"}]}]),
        semconv.GEN_AI_OUTPUT_MESSAGES: json.dumps([{"role": "assistant", "parts": [
            {"type": "reasoning", "content": "hmm"}, {"type": "text", "content": "done"},
            {"type": "tool_call", "id": "c1", "name": "bash", "arguments": {"command": "ls"}}]}]),
        semconv.GEN_AI_TOOL_NAME: "bash", semconv.GEN_AI_TOOL_CALL_ID: "c2",
        semconv.GEN_AI_TOOL_CALL_ARGUMENTS: '{"command": "pytest"}', semconv.GEN_AI_TOOL_CALL_RESULT: "1 failed",
        semconv.ERROR_TYPE: "exit_1",
    }
    record = SpanRecord("ab" * 16, "cd" * 8, "chat m", attrs, 5, 9, None)
    views = list(views_from_record(record))
    got = [(v.kind, v.text, v.tool, v.arguments, v.error, v.location, v.tool_call_id) for v in views]
    assert got == [
        ("reasoning", "think first", None, None, None, semconv.COT_REASONING_CONTENT, None),
        ("system", "be careful", None, None, None, f"{semconv.GEN_AI_INPUT_MESSAGES}[0].parts[0]", None),
        ("user", "fix it", None, None, None, f"{semconv.GEN_AI_INPUT_MESSAGES}[1].parts[0]", None),
        ("tool_result", "file text", "read", None, None, f"{semconv.GEN_AI_INPUT_MESSAGES}[2].parts[0]", "c0"),
        ("tool_result", "raw tool", None, None, None, f"{semconv.GEN_AI_INPUT_MESSAGES}[2].parts[1]", None),
        ("reasoning", "hmm", None, None, None, f"{semconv.GEN_AI_OUTPUT_MESSAGES}[0].parts[0]", None),
        ("model_call", "done", None, None, None, f"{semconv.GEN_AI_OUTPUT_MESSAGES}[0].parts[1]", None),
        ("tool_call", '{"command": "ls"}', "bash", '{"command": "ls"}', None,
         f"{semconv.GEN_AI_OUTPUT_MESSAGES}[0].parts[2]", "c1"),
        ("tool_call", '{"command": "pytest"}', "bash", '{"command": "pytest"}', None,
         semconv.GEN_AI_TOOL_CALL_ARGUMENTS, "c2"),
        ("tool_result", "1 failed", "bash", None, "exit_1", semconv.GEN_AI_TOOL_CALL_RESULT, "c2"),
    ]
    for view in views:
        assert (view.trace_id, view.span_id, view.span_name, view.start_time_ns, view.end_time_ns) == \
            ("ab" * 16, "cd" * 8, "chat m", 5, 9)
        assert view.attributes is attrs
        assert dataclasses.replace(view) == view  # the keyword constructor gives the same view


def test_the_view_fields_are_the_ones_views_passes_by_position():
    # views.py passes SpanView's fields by position, in this order: a field added or moved must be added there
    assert [f.name for f in dataclasses.fields(SpanView)] == [
        "kind", "text", "tool", "arguments", "error", "trace_id", "span_id", "span_name", "start_time_ns",
        "end_time_ns", "location", "tool_call_id", "attributes"]
