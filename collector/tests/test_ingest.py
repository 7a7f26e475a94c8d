"""Ingest.accept in process, on a real Store: what it queues and what it hands to the pipeline."""

from __future__ import annotations

import asyncio

from inprocess_support import HARMLESS, span_id, trace_request
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from otel_cot_collector import otlp
from otel_cot_collector.ingest import OK, Ingest
from otel_cot_collector.store import Store
from otel_cot_collector.telemetry import Metrics


def test_an_accepted_request_is_queued_and_its_decoded_form_handed_to_the_pipeline(tmp_path):
    store = Store(str(tmp_path / "q"), 1 << 20)
    try:
        ingest = Ingest(store, Metrics(), {"traces"})
        valid = trace_request((1, 1, HARMLESS), (1, 2, HARMLESS))
        req = ExportTraceServiceRequest.FromString(valid)
        req.resource_spans[0].scope_spans[0].spans[1].span_id = bytes(8)  # invalid: dropped, the rest kept
        outcome = asyncio.run(ingest.accept(otlp.TRACES, req.SerializeToString(), False, "http"))
        assert outcome.status == OK
        [(row, _, data)] = store.read_inbox(0, 10)
        decoded = store.take_decoded(row)
        assert isinstance(decoded, ExportTraceServiceRequest)
        assert decoded.SerializeToString() == data  # what was queued, after the invalid span was dropped
        assert [s.span_id for s in decoded.resource_spans[0].scope_spans[0].spans] == [span_id(1)]
    finally:
        store.close()
