"""``SpanRecord.of`` (the collector's per-span constructor) makes what the dataclass constructor makes."""

from __future__ import annotations

import dataclasses

import pytest

from otel_cot.detectors import SpanRecord
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
