"""Faults: backend down, slow, kill -9 of the collector, queue full, shutdown drain. Nothing acknowledged
may be lost."""

from __future__ import annotations

import threading
import time

import grpc
import pytest
import requests
from collector_support import Sink, wait_for
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

pytestmark = pytest.mark.process

PROTOBUF = {"Content-Type": "application/x-protobuf"}


def batch(n_request: int, spans: int = 20, pad: int = 0) -> tuple[bytes, list[str]]:
    """A request with ``spans`` spans in ``spans`` traces; ids unique per ``n_request``."""
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    rs.resource.attributes.add(key="service.name").value.string_value = "load"
    ss = rs.scope_spans.add()
    ids = []
    for i in range(spans):
        sid = (n_request << 16 | i) + 1
        span = ss.spans.add(trace_id=(sid + (1 << 100)).to_bytes(16, "big"), span_id=sid.to_bytes(8, "big"),
                            name="step", start_time_unix_nano=1, end_time_unix_nano=2)
        if pad:
            span.attributes.add(key="pad").value.string_value = "x" * pad
        ids.append(sid.to_bytes(8, "big").hex())
    return req.SerializeToString(), ids


def _rss_kib(collector) -> int:
    with open(f"/proc/{collector.proc.pid}/status") as fh:
        return int(next(line for line in fh if line.startswith("VmRSS:")).split()[1])


def post(collector, body: bytes) -> requests.Response:
    return requests.post(f"http://{collector.http_endpoint}/v1/traces", data=body, headers=PROTOBUF, timeout=10)


@pytest.mark.parametrize("exporter", ["otlp_grpc", "otlp_http"])
def test_backend_down_then_up_loses_nothing(make_collector, exporter):
    sink = Sink()  # ports reserved, not listening yet
    collector = make_collector(sink, exporter=exporter).start()
    sent: list[str] = []
    for n in range(30):
        body, ids = batch(n)
        assert post(collector, body).status_code == 200
        sent += ids
    wait_for(lambda: collector.metric("otelcot_exporter_retries_total") >= 2, 15, "export retries")
    sink.start()
    try:
        wait_for(lambda: set(sent) <= set(sink.spans), 30, "every acknowledged span after the backend came up")
    finally:
        sink.stop()


def test_slow_backend_does_not_slow_receivers(make_collector, sink):
    sink.mode, sink.delay = "slow", 2.5  # longer than the exporter's 2 s timeout: attempts time out
    collector = make_collector(sink).start()
    sent: list[str] = []
    worst = 0.0
    for n in range(20):
        body, ids = batch(n)
        started = time.monotonic()
        assert post(collector, body).status_code == 200
        worst = max(worst, time.monotonic() - started)
        sent += ids
    assert worst < 1.5, f"acknowledging took {worst:.2f}s while the backend was slow"
    wait_for(lambda: collector.metric("otelcot_exporter_retries_total") >= 1, 15, "a timed-out export")
    sink.delay = 0.05
    wait_for(lambda: set(sent) <= set(sink.spans), 40, "every span once the backend sped up")


def test_kill_9_mid_load_then_restart_loses_nothing_acknowledged(make_collector, sink):
    sink.mode, sink.delay = "slow", 0.05
    collector = make_collector(sink).start()
    acked: list[str] = []
    stop = threading.Event()

    def load() -> None:
        n = 0
        session = requests.Session()
        while not stop.is_set() and n < 5000:
            body, ids = batch(n, spans=50)
            n += 1
            try:
                r = session.post(f"http://{collector.http_endpoint}/v1/traces", data=body, headers=PROTOBUF,
                                 timeout=5)
            except requests.RequestException:
                continue
            if r.status_code == 200:
                acked.extend(ids)

    sender = threading.Thread(target=load)
    sender.start()
    wait_for(lambda: len(acked) >= 3000, 30, "load to build up")
    collector.kill9()
    stop.set()
    sender.join(15)
    assert len(set(acked)) < 3000 * 10  # the load was bounded
    collector.start()
    wait_for(lambda: set(acked) <= set(sink.spans), 60,
             f"all {len(acked)} acknowledged spans after kill -9 and restart")
    assert collector.stop() == 0


def test_queue_full_gives_retryable_refusals(make_collector):
    sink = Sink()  # down: nothing leaves the queue
    collector = make_collector(sink, max_bytes="300KiB").start()
    body, _ = batch(0, spans=20, pad=1000)  # ~21 KB
    statuses = []
    for _ in range(40):
        r = post(collector, body)
        statuses.append(r.status_code)
        if r.status_code != 200:
            assert r.status_code == 503 and r.headers["Retry-After"].isdigit()
    assert 200 in statuses and 503 in statuses
    assert collector.metric("otelcot_queue_bytes") <= 300 * 1024
    assert requests.get(collector.ops + "/readyz", timeout=5).status_code == 503
    rss = _rss_kib(collector)
    for _ in range(200):  # refused requests must not grow memory
        assert post(collector, body).status_code == 503
    assert _rss_kib(collector) - rss < 30_000

    channel = grpc.insecure_channel(collector.grpc_endpoint)
    call = channel.unary_unary("/opentelemetry.proto.collector.trace.v1.TraceService/Export",
                               request_serializer=None, response_deserializer=ExportTraceServiceResponse.FromString)
    try:
        call(body, timeout=10)
        raise AssertionError("expected UNAVAILABLE")
    except grpc.RpcError as err:
        assert err.code() == grpc.StatusCode.UNAVAILABLE
        status = rpc_status.from_call(err)
        info = error_details_pb2.RetryInfo()
        assert status.details[0].Unpack(info) and info.retry_delay.seconds >= 1
    channel.close()

    sink.start()
    try:
        wait_for(lambda: requests.get(collector.ops + "/readyz", timeout=5).status_code == 200, 30,
                 "the queue to drain once the backend is up")
        assert post(collector, body).status_code == 200
        assert collector.stop() == 0
    finally:
        sink.stop()


def test_graceful_shutdown_drains(make_collector, sink):
    collector = make_collector(sink, wait="2s").start()  # spans are still held by trace grouping
    sent: list[str] = []
    for n in range(10):
        body, ids = batch(n)
        assert post(collector, body).status_code == 200
        sent += ids
    assert collector.stop() == 0
    assert set(sent) <= set(sink.spans)
    assert '"left_in_outbox": 0' in collector.log()


@pytest.mark.parametrize("exporter", ["otlp_grpc", "otlp_http"])
def test_backend_throttling_and_size_cap(make_collector, exporter):
    """The backend first answers retryably (503 + Retry-After / UNAVAILABLE), then refuses batches over its
    size cap: queued requests are retried, then split until each fits; nothing is dropped."""
    sink = Sink().start()
    sink.mode = "unavailable"
    collector = make_collector(sink, exporter=exporter, wait="300ms",  # rows merge requests
                               headers={"X-Vendor-Key": "k-123"}).start()
    sent: list[str] = []
    size = 0
    for n in range(12):
        body, ids = batch(n, spans=20, pad=200)
        size = len(body)
        assert post(collector, body).status_code == 200
        sent += ids
    wait_for(lambda: collector.metric("otelcot_exporter_retries_total") >= 2, 15, "retries while throttled")
    sink.max_body = int(size * 1.5)  # more than one queued request per batch is too large
    sink.mode = "ok"
    try:
        wait_for(lambda: set(sent) <= set(sink.spans), 30, "every span, in batches the backend accepts")
        assert collector.metric("otelcot_exporter_dropped_requests_total") == 0
        assert sink.headers["x-vendor-key"] == "k-123"
    finally:
        sink.stop()
