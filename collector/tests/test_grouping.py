"""TraceGrouper in process: a trace is held ``wait`` after its first span, bounded by traces and spans."""

from __future__ import annotations

from types import SimpleNamespace

from inprocess_support import Clock, trace_id

from otel_cot_collector.processors.grouping import SpanRef, TraceGrouper


def ref(trace: int, n: int) -> SpanRef:
    return SpanRef(resource=None, scope=None, span=SimpleNamespace(trace_id=trace_id(trace), n=n), inbox_id=n)


def ids(groups) -> list[tuple[int, list[int]]]:
    return [(int.from_bytes(g.trace_id, "big"), [r.span.n for r in g.spans]) for g in groups]


def test_a_trace_leaves_wait_after_its_first_span_with_every_span_that_came_meanwhile():
    clock = Clock()
    grouper = TraceGrouper(2.0, 100, 1000, clock=clock)
    grouper.add(ref(1, 1))
    clock.now += 1.5
    grouper.add(ref(2, 2))
    grouper.add(ref(1, 3))
    assert grouper.due() == [] and grouper.next_deadline() == 1002.0
    clock.now += 0.5
    assert ids(grouper.due()) == [(1, [1, 3])]
    assert grouper.span_count == 1 and len(grouper) == 1 and grouper.next_deadline() == 1003.5
    clock.now += 1.5
    assert ids(grouper.due()) == [(2, [2])] and grouper.next_deadline() is None


def test_a_late_span_starts_a_new_group_of_its_trace():
    clock = Clock()
    grouper = TraceGrouper(1.0, 100, 1000, clock=clock)
    grouper.add(ref(1, 1))
    clock.now += 1
    assert ids(grouper.due()) == [(1, [1])]
    grouper.add(ref(1, 2))
    assert grouper.due() == []
    clock.now += 1
    assert ids(grouper.due()) == [(1, [2])]


def test_over_the_trace_bound_the_oldest_leave_early():
    grouper = TraceGrouper(60.0, 2, 1000, clock=Clock())
    for n in (1, 2):
        grouper.add(ref(n, n))
    assert grouper.full and grouper.due() == []  # at the bound, not over it
    grouper.add(ref(3, 3))
    assert ids(grouper.due()) == [(1, [1])] and len(grouper) == 2


def test_over_the_span_bound_the_oldest_traces_leave_early():
    grouper = TraceGrouper(60.0, 100, 3, clock=Clock())
    for n, trace in enumerate((1, 1, 2, 2), start=1):
        grouper.add(ref(trace, n))
    assert grouper.full
    assert ids(grouper.due()) == [(1, [1, 2])] and grouper.span_count == 2 and not grouper.full


def test_force_flushes_everything_in_arrival_order():
    grouper = TraceGrouper(60.0, 100, 1000, clock=Clock())
    for n in (3, 1, 2):
        grouper.add(ref(n, n))
    assert ids(grouper.due(force=True)) == [(3, [3]), (1, [1]), (2, [2])] and grouper.span_count == 0
