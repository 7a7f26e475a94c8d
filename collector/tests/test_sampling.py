"""Finding-aware sampling in process: flagged traces always kept (and their late parts), the rest by the
low 8 bytes of the trace id, the same way on every instance."""

from __future__ import annotations

from inprocess_support import trace_id

from otel_cot_collector.processors.grouping import Group
from otel_cot_collector.processors.sampling import Sampler
from otel_cot_collector.telemetry import Metrics

LOW = (1 << 20).to_bytes(16, "big")  # low 8 bytes small: under any positive threshold
HIGH = ((1 << 64) - 1).to_bytes(16, "big")  # low 8 bytes at the top: over any threshold below 1


def test_the_decision_is_a_threshold_on_the_trace_ids_low_bytes():
    half = Sampler(0.5)
    assert half.keep(LOW, False) and not half.keep(HIGH, False)
    assert Sampler(0.5).keep(LOW, False) == half.keep(LOW, False)  # another instance decides the same
    assert Sampler(1.0).keep(HIGH, False) and not Sampler(0.0).keep(LOW, False)


def test_a_flagged_trace_is_kept_and_so_are_its_later_parts():
    sampler = Sampler(0.0)
    assert sampler.keep(HIGH, True)
    assert sampler.keep(HIGH, False)  # a late batch of the same trace, without findings of its own


def test_remembered_flagged_traces_are_bounded():
    sampler = Sampler(0.0, remember_traces=2)
    for n in (1, 2, 3):
        sampler.keep(trace_id(n), True)
    assert not sampler.keep(trace_id(1), False) and sampler.keep(trace_id(3), False)


def test_as_a_processor_it_drops_groups_and_counts_their_spans():
    metrics = Metrics()
    sampler = Sampler(0.0, metrics=metrics)
    flagged = Group(LOW, 0.0, spans=[object()], flagged=True)
    dropped = Group(HIGH, 0.0, spans=[object(), object()])
    assert sampler.traces([flagged, dropped]) == [flagged]
    assert metrics.get("otelcot_sampled_out_spans_total") == 2
