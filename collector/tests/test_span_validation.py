"""``otlp.check`` on spans: which ids a backend would refuse (and the receiver drops, counting them in
``partial_success``), for every length and for all-zero ids."""

from __future__ import annotations

import itertools

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from otel_cot_collector import otlp

TRACE_IDS = [bytes(16), bytes(15) + b"\x01", b"\x01" + bytes(15), b"\xff" * 16, b"\x01" * 15, b"\x01" * 17, b""]
SPAN_IDS = [bytes(8), bytes(7) + b"\x01", b"\x80" + bytes(7), b"\x01" * 7, b"\x01" * 9, b""]
PARENTS = [b"", bytes(8), b"\x02" * 8, b"\x02" * 4, b"\x02" * 16]


def valid(trace_id: bytes, span_id: bytes, parent: bytes) -> bool:
    # the OTLP rule, spelled out: 16- and 8-byte ids, not all zero; the parent empty or 8 bytes
    return (len(trace_id) == 16 and any(trace_id) and len(span_id) == 8 and any(span_id)
            and len(parent) in (0, 8))


def test_every_id_shape_is_kept_or_rejected_by_the_rule():
    cases = list(itertools.product(TRACE_IDS, SPAN_IDS, PARENTS))
    req = ExportTraceServiceRequest()
    spans = req.resource_spans.add().scope_spans.add().spans
    for n, (trace_id, span_id, parent) in enumerate(cases):
        spans.add(trace_id=trace_id, span_id=span_id, parent_span_id=parent, name=str(n))
    checked = otlp.check(otlp.TRACES, req)
    kept = [int(s.name) for s in req.resource_spans[0].scope_spans[0].spans]
    assert kept == [n for n, case in enumerate(cases) if valid(*case)]
    assert checked.items == len(kept) and checked.rejected == len(cases) - len(kept) > 0
