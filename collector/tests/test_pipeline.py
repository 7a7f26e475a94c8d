"""Pipeline.step driven directly, on a real Store in a temporary directory: grouping and the delivery
guarantee, detection, sampling, findings metrics, logs, failures, a restart."""

from __future__ import annotations

import pytest
from inprocess_support import DESTRUCTIVE, EXPORTER, HARMLESS, Harness, config, log_request, span_id, trace_request
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from otel_cot import semconv
from otel_cot_collector import otlp


@pytest.fixture
def harness(tmp_path):
    made: list[Harness] = []

    def make(**kwargs) -> Harness:
        h = Harness(str(tmp_path / f"q{len(made)}"), config(str(tmp_path / f"q{len(made)}"), **kwargs))
        made.append(h)
        return h

    yield make
    for h in made:
        h.close()


def attrs(span) -> dict:
    return otlp.attributes_of(span.attributes)


def test_an_inbox_row_is_deleted_only_when_every_span_of_it_left_the_grouper(harness):
    h = harness()
    first = h.add(otlp.TRACES, trace_request((1, 1, HARMLESS)))
    h.pipeline.step()
    h.clock.now += 0.6
    second = h.add(otlp.TRACES, trace_request((1, 2, HARMLESS), (2, 3, HARMLESS)))
    h.pipeline.step()
    assert h.store.counts() == (2, 0)  # both held: trace 1 waits for its 1s, trace 2 too
    h.clock.now += 0.5  # trace 1 is due (1.1s), trace 2 is not (0.5s)
    h.pipeline.step()
    assert set(h.spans()) == {span_id(1), span_id(2)}
    assert [row for row, _, _ in h.store.read_inbox(0, 10)] == [second]  # still carries trace 2's span
    h.clock.now += 0.6
    h.pipeline.step()
    assert set(h.spans()) == {span_id(1), span_id(2), span_id(3)}
    assert h.store.counts()[0] == 0 and first < second


def test_a_forced_step_flushes_every_held_trace(harness):
    h = harness()
    h.add(otlp.TRACES, trace_request((1, 1, HARMLESS), (2, 2, HARMLESS)))
    h.pipeline.step()
    assert h.spans() == {}
    h.pipeline.step(force=True)
    assert set(h.spans()) == {span_id(1), span_id(2)} and len(h.pipeline.grouper) == 0


def test_detect_writes_findings_and_sampling_keeps_only_flagged_traces(harness):
    h = harness(traces=["group_by_trace", "detect", "sampling"],
                processors={"group_by_trace": {}, "detect": {"timeout": 0}, "sampling": {"keep_fraction": 0}})
    h.add(otlp.TRACES, trace_request((1, 1, DESTRUCTIVE), (2, 2, HARMLESS)))
    h.pipeline.step(force=True)
    spans = h.spans()
    assert set(spans) == {span_id(1)}  # trace 2 had no finding and keep_fraction is 0
    flagged = attrs(spans[span_id(1)])
    assert flagged[semconv.COT_FLAGGED] is True and "destructive_action" in flagged[semconv.COT_FINDING_CATEGORIES]
    assert h.metrics.get("otelcot_sampled_out_spans_total") == 1
    assert h.metrics.get("otelcot_findings_total", category="destructive_action", severity="high") >= 1
    assert h.store.counts()[0] == 0  # the dropped trace's row is done too


def test_redelivered_spans_are_not_annotated_twice(harness):
    first, second = harness(), harness()  # a second stage (or a restart) has no memory of the first
    first.add(otlp.TRACES, trace_request((1, 1, DESTRUCTIVE)))
    first.pipeline.step(force=True)
    [once] = first.outbox(otlp.TRACES)
    assert attrs(first.spans()[span_id(1)])[semconv.COT_FLAGGED] is True
    second.add(otlp.TRACES, once)
    second.pipeline.step(force=True)
    assert second.outbox(otlp.TRACES) == [once]
    assert second.metrics.get("otelcot_findings_total") == 0  # nothing new was written


def test_findings_metrics_go_out_on_tick(harness):
    h = harness()
    h.add(otlp.TRACES, trace_request((1, 1, DESTRUCTIVE)))
    h.pipeline.step(force=True)
    assert h.outbox(otlp.METRICS) == []  # interval 1h: not yet
    h.pipeline.tick(force=True)
    [data] = h.outbox(otlp.METRICS)
    metric = ExportMetricsServiceRequest.FromString(data).resource_metrics[0].scope_metrics[0].metrics[0]
    assert metric.name == semconv.COT_FINDINGS_METRIC and metric.sum.data_points[0].as_int >= 1


def test_logs_are_judged_and_counted(harness):
    h = harness(logs=["detect"])
    h.add(otlp.LOGS, log_request({"tool_name": "Bash", "tool_parameters": "git push -f origin main"}))
    h.pipeline.step()
    [data] = h.outbox(otlp.LOGS)
    record = ExportLogsServiceRequest.FromString(data).resource_logs[0].scope_logs[0].log_records[0]
    assert attrs(record)[semconv.COT_FLAGGED] is True
    assert h.metrics.get("otelcot_findings_total") >= 1


def test_logs_without_processors_pass_through_byte_for_byte(harness):
    h = harness()
    body = log_request({"tool_name": "Bash", "tool_parameters": "git push -f origin main"})
    h.add(otlp.LOGS, body)
    h.pipeline.step()
    assert h.outbox(otlp.LOGS) == [body]


def test_a_request_that_cannot_be_processed_is_forwarded_unprocessed(harness):
    h = harness(logs=["detect"])
    h.add(otlp.LOGS, b"\xff\xff not protobuf")
    h.pipeline.step()
    assert h.outbox(otlp.LOGS) == [b"\xff\xff not protobuf"] and h.store.counts()[0] == 0


def test_after_a_crash_held_spans_are_processed_again(tmp_path):
    data = config(str(tmp_path / "q"))
    h = Harness(str(tmp_path / "q"), data)
    h.add(otlp.TRACES, trace_request((1, 1, DESTRUCTIVE)))
    h.pipeline.step()  # held in the grouper, which a crash loses
    h.close()
    h = Harness(str(tmp_path / "q"), data)
    try:
        assert h.store.counts() == (1, 0)
        h.pipeline.step(force=True)
        assert attrs(h.spans()[span_id(1)])[semconv.COT_FLAGGED] is True and h.store.counts()[0] == 0
    finally:
        h.close()


def test_no_detect_means_no_annotation(harness):
    h = harness(traces=["group_by_trace"], processors={"group_by_trace": {}})
    h.add(otlp.TRACES, trace_request((1, 1, DESTRUCTIVE)))
    h.pipeline.step(force=True)
    assert semconv.COT_FLAGGED not in attrs(h.spans()[span_id(1)])
    assert h.outbox(otlp.TRACES, EXPORTER)


def test_the_pipeline_uses_the_request_the_receiver_decoded_instead_of_decoding_the_row_again(harness):
    h = harness()
    data = trace_request((1, 1, HARMLESS))
    # told apart by its resource (its spans' bytes are the queued ones: see test_span_wire_reuse.py)
    handed = ExportTraceServiceRequest.FromString(trace_request((1, 1, HARMLESS), service="handed"))
    row = h.store.append(otlp.TRACES.code, data, handed).result(timeout=10)
    h.pipeline.step(force=True)
    [out] = h.outbox(otlp.TRACES)
    resource = ExportTraceServiceRequest.FromString(out).resource_spans[0].resource
    assert attrs(resource)["service.name"] == "handed"
    assert h.store.take_decoded(row) is None  # handed over once


def test_a_handed_over_request_gives_the_same_outbox_bytes_as_decoding_the_row(harness):
    requests = [(otlp.TRACES, trace_request((1, 1, DESTRUCTIVE), (2, 2, HARMLESS))),
                (otlp.TRACES, trace_request((1, 3, HARMLESS), (3, 4, DESTRUCTIVE))),
                (otlp.LOGS, log_request({"tool_name": "Bash", "tool_parameters": "git push -f origin main"}))]
    outboxes = []
    for hand_over in (False, True):
        h = harness(logs=["detect"])
        for signal, data in requests:
            h.store.append(signal.code, data, signal.request.FromString(data) if hand_over else None).result(10)
        h.pipeline.step(force=True)
        outboxes.append((h.outbox(otlp.TRACES), h.outbox(otlp.LOGS)))
    assert outboxes[0] == outboxes[1] and outboxes[0][0] and outboxes[0][1]


def test_a_handed_over_trace_request_is_not_read_back_from_the_queue(harness, monkeypatch):
    h = harness(logs=["detect"])
    read: list[int] = []
    inbox_data = h.store.inbox_data
    monkeypatch.setattr(h.store, "inbox_data", lambda row: read.append(row) or inbox_data(row))
    data = trace_request((1, 1, HARMLESS))
    h.store.append(otlp.TRACES.code, data, ExportTraceServiceRequest.FromString(data)).result(timeout=10)
    plain = h.add(otlp.TRACES, trace_request((2, 2, HARMLESS)))  # not handed over (e.g. after a restart)
    logs = h.add(otlp.LOGS, log_request({"tool_name": "Bash", "tool_parameters": "ls"}))  # forwarded as received
    h.pipeline.step(force=True)
    assert read == [plain, logs]
    assert set(h.spans()) == {span_id(1), span_id(2)} and h.outbox(otlp.LOGS)
