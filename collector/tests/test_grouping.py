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


def test_the_spans_of_one_scope_are_added_together_as_refs_to_their_resource_scope_and_row():
    clock = Clock()
    grouper = TraceGrouper(1.0, 100, 1000, clock=clock)
    resource, scope = object(), object()
    spans = [SimpleNamespace(trace_id=trace_id(t), n=n) for n, t in enumerate((1, 2, 1), start=1)]
    grouper.add_spans(resource, scope, spans, 7)
    clock.now += 0.5
    grouper.add(ref(2, 4))
    assert grouper.span_count == 4 and len(grouper) == 2
    clock.now += 0.5
    groups = grouper.due()
    assert ids(groups) == [(1, [1, 3]), (2, [2, 4])]
    first = groups[0].spans[0]
    assert (first.resource, first.scope, first.span, first.inbox_id) == (resource, scope, spans[0], 7)


def test_spans_added_before_a_failure_are_counted():
    grouper = TraceGrouper(1.0, 100, 1000, clock=Clock())

    def spans():
        yield SimpleNamespace(trace_id=trace_id(1), n=1)
        raise RuntimeError("unreadable span")

    try:
        grouper.add_spans(None, None, spans(), 1)
    except RuntimeError:
        pass
    assert grouper.span_count == 1 and ids(grouper.due(force=True)) == [(1, [1])]
