"""The one judging-and-placing algorithm (otel_cot.detectors.judging) that the in-process exporter and the
collector's detect processor both run: order, one engine call, fallbacks, where findings go."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from otel_cot import semconv
from otel_cot.detectors import Engine, Finding, SpanRecord
from otel_cot.detectors.judging import Placed, judge

TRACE = "ab" * 16


@dataclass
class FakeSpan:
    span_id: str
    end: int
    attributes: Any = field(default_factory=dict)
    unreadable: bool = False


class Access:
    def record(self, span: FakeSpan) -> SpanRecord:
        if span.unreadable:
            raise ValueError(f"cannot read {span.span_id}")
        return SpanRecord(TRACE, span.span_id, "execute_tool t", span.attributes, span.end - 1, span.end)

    def order(self, span: FakeSpan) -> tuple[int, int]:
        return span.end, span.end - 1

    def span_id(self, span: FakeSpan) -> str:
        return span.span_id


class Recorder:
    """Notes the spans it sees, in order; a span whose tool name is ``about:<id>`` gets a finding about
    span ``<id>`` (``about:`` alone: a finding without a span id)."""

    id, version, categories = "test.recorder", "1", ("reward_hacking",)

    def __init__(self) -> None:
        self.seen: list[str] = []

    def detect(self, view, ctx):
        self.seen.append(view.span_id)
        if view.tool.startswith("about:"):
            return [Finding(self.id, self.version, "reward_hacking", "high", 0.9, "x", evidence_location=view.span_id,
                            span_id=view.tool[len("about:"):], trace_id=view.trace_id)]
        return []


class CountingEngine(Engine):
    def __init__(self, detector: Recorder) -> None:
        super().__init__([detector], timeout_s=None)
        self.calls = 0

    def process_many(self, records):
        self.calls += 1
        return super().process_many(records)


def tool(span_id: str, end: int, name: str = "noop") -> FakeSpan:
    return FakeSpan(span_id, end, {semconv.GEN_AI_TOOL_NAME: name, semconv.GEN_AI_TOOL_CALL_ARGUMENTS: "{}"})


def test_groups_are_judged_in_end_time_order_with_one_engine_call():
    detector = Recorder()
    engine = CountingEngine(detector)
    first = [tool("c", 30), tool("a", 10), tool("b", 20)]
    second = [tool("e", 5), tool("d", 1)]
    out = judge(engine, [first, second], Access())
    assert engine.calls == 1
    assert detector.seen == ["a", "b", "c", "d", "e"]
    assert all(isinstance(p, Placed) and not p.held and not p.gone and not p.flagged for p in out)


def test_an_unreadable_group_fails_alone():
    detector = Recorder()
    engine = CountingEngine(detector)
    bad_record = FakeSpan("x", 2, attributes=5)  # readable, but the engine cannot make views of it
    out = judge(engine, [[tool("a", 1)], [bad_record], [FakeSpan("y", 3, unreadable=True)], [tool("b", 4)]],
                Access())
    assert isinstance(out[1], AttributeError) and isinstance(out[2], ValueError)
    assert isinstance(out[0], Placed) and isinstance(out[3], Placed)
    assert detector.seen == ["a", "b"]  # the batch call failed before judging anything; then group by group


def test_skip_unreadable_judges_span_by_span():
    detector = Recorder()
    skipped: list[tuple[str, str]] = []
    spans = [tool("a", 1, "about:a"), FakeSpan("x", 2, unreadable=True), tool("b", 3)]
    [placed] = judge(Engine([detector], timeout_s=None), [spans], Access(),
                     skip_unreadable=lambda span, exc: skipped.append((span.span_id, type(exc).__name__)))
    assert skipped == [("x", "ValueError")]
    assert detector.seen == ["a", "b"]
    assert isinstance(placed, Placed) and [(s.span_id, len(f)) for s, f in placed.held] == [("a", 1)]


def test_findings_go_to_the_span_they_are_about_or_to_gone():
    spans = [tool("a", 1), tool("b", 2, "about:a"), tool("c", 3, "about:"), tool("d", 4, "about:0123"),
             tool("e", 5, "about:0123")]
    [placed] = judge(Engine([Recorder()], timeout_s=None), [spans], Access())
    assert isinstance(placed, Placed)
    # the finding from b is about a; the one without a span id is about the span judged (c)
    assert [(s.span_id, [f.evidence_location for f in found]) for s, found in placed.held] == [("a", ["b"]),
                                                                                              ("c", ["c"])]
    # both findings about a span not in the group: one entry, with the first span that found one
    assert [(span_id, source.span_id, [f.evidence_location for f in found])
            for span_id, source, found in placed.gone] == [("0123", "d", ["d", "e"])]
    assert placed.flagged


@pytest.mark.parametrize("attributes, flagged", [({semconv.COT_FLAGGED: True}, True), ({}, False)])
def test_flagged_by_an_earlier_pass(attributes, flagged):
    [placed] = judge(Engine([Recorder()], timeout_s=None), [[FakeSpan("a", 1, attributes)]], Access())
    assert isinstance(placed, Placed) and placed.flagged is flagged and not placed.held


def _place_before(order, found, records, access):
    """``judging._place`` before the flagged check was inlined (frozen copy, for the differential test)."""
    placed = Placed()
    held: dict = {}
    gone: dict = {}
    by_id = None
    flagged = False
    for span, findings, record in zip(order, found, records):
        if not flagged:
            flagged = bool(findings) or (record is not None and bool(record.attributes.get(semconv.COT_FLAGGED)))
        if not findings:
            continue
        if by_id is None:
            by_id = {access.span_id(s): s for s in order}
        for finding in findings:
            target = by_id.get(finding.span_id) if finding.span_id else span
            if target is None:
                about = gone.get(finding.span_id)
                if about is None:
                    about = gone[finding.span_id] = []
                    placed.gone.append((finding.span_id, span, about))
            else:
                about = held.get(id(target))
                if about is None:
                    about = held[id(target)] = []
                    placed.held.append((target, about))
            about.append(finding)
    placed.flagged = flagged
    return placed


def test_placing_is_the_same_as_before_on_random_groups():
    """Random groups (spans with and without findings, about themselves, another span of the group or one
    no longer held; unreadable spans; ``cot.flagged`` true, false, absent or a non-bool) are placed as the
    frozen copy of the previous ``_place`` places them."""
    import random

    from otel_cot.detectors.judging import _place

    rnd = random.Random(18)
    access = Access()
    flags = [{}, {semconv.COT_FLAGGED: True}, {semconv.COT_FLAGGED: False}, {semconv.COT_FLAGGED: ""},
             {semconv.COT_FLAGGED: "yes"}, {semconv.COT_FLAGGED: 0}]
    for _ in range(3000):
        spans = [FakeSpan(f"{i:016x}", rnd.randrange(50), dict(rnd.choice(flags))) for i in range(rnd.randrange(0, 8))]
        ids = [s.span_id for s in spans] + ["", "", "ffffffffffffff0" + str(rnd.randrange(3))]
        found, records = [], []
        for span in spans:
            found.append([Finding("d", "1", "reward_hacking", "high", 0.9, "x", span_id=rnd.choice(ids))
                          for _ in range(rnd.choice((0, 0, 0, 1, 2)))])
            records.append(None if rnd.random() < 0.1 else access.record(span))
        new, old = _place(spans, found, records, access), _place_before(spans, found, records, access)
        assert new.flagged == old.flagged
        assert [(id(s), f) for s, f in new.held] == [(id(s), f) for s, f in old.held]
        assert [(i, id(s), f) for i, s, f in new.gone] == [(i, id(s), f) for i, s, f in old.gone]
