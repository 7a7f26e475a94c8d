"""The fast SpanView construction used by views_from_record builds the same views as the dataclass."""

from __future__ import annotations

import dataclasses

from otel_cot.detectors import views
from otel_cot.detectors.base import SpanView


def test_fast_view_equals_the_dataclass():
    kw = dict(kind="tool_call", text="ls", tool="bash", arguments="ls", span_id="1", trace_id="t", location="x")
    fast, real = views._fast_view(**kw), SpanView(**kw)
    assert fast == real and repr(fast) == repr(real)
    assert {f.name: getattr(fast, f.name) for f in dataclasses.fields(SpanView)} == \
        {f.name: getattr(real, f.name) for f in dataclasses.fields(SpanView)}
    assert fast.attributes == {} and fast.attributes is not views._fast_view(kind="x").attributes  # own dict
    assert dataclasses.replace(fast, text="pwd").text == "pwd"


def test_views_from_record_builds_plain_span_views():
    record = views.SpanRecord(trace_id="t", span_id="s", name="execute_tool bash", attributes={
        "gen_ai.tool.name": "bash", "gen_ai.tool.call.id": "c1", "gen_ai.tool.call.arguments": '{"command": "ls"}',
        "gen_ai.tool.call.result": "a b", "cot.reasoning.content": "think"})
    out = list(views.views_from_record(record))
    assert [v.kind for v in out] == ["reasoning", "tool_call", "tool_result"]
    for v in out:
        assert v == SpanView(**{f.name: getattr(v, f.name) for f in dataclasses.fields(SpanView)})
