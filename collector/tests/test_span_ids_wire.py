"""The compiled id check (``_span_wire.valid_spans``, read from a request's wire bytes) against ``otlp.check``
through the protobuf API: the same span count whenever every span's ids are valid, None (the API path then
decides) whenever one is not or the bytes are not read exactly; on every id shape, on random requests with
repeated and unknown fields, on random corruptions and on the bench load."""

from __future__ import annotations

import itertools
import random

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from otel_cot_collector import otlp

from throughput import request  # (the load of bench/collector.py)
from test_span_validation import PARENTS, SPAN_IDS, TRACE_IDS
from test_span_wire import _len, _varint  # (protobuf wire helpers)


@pytest.fixture
def wire(span_wire, monkeypatch):
    monkeypatch.setattr(otlp, "WIRE", span_wire)  # under OTEL_COT_NATIVE=off too
    return span_wire


def _api(data: bytes) -> otlp.Checked:
    return otlp.check(otlp.TRACES, ExportTraceServiceRequest.FromString(data))


def assert_agrees(wire, data: bytes) -> int | None:
    """valid_spans(data) is the API's count when the API rejects nothing, and None when it rejects some."""
    got = wire.valid_spans(data)
    want = _api(data)
    if want.rejected:
        assert got is None
    elif got is not None:
        assert got == want.items
    return got


def test_every_id_shape(wire):
    for trace_id, span_id, parent in itertools.product(TRACE_IDS, SPAN_IDS, PARENTS):
        req = ExportTraceServiceRequest()
        req.resource_spans.add().scope_spans.add().spans.add(trace_id=trace_id, span_id=span_id,
                                                             parent_span_id=parent, name="s")
        data = req.SerializeToString()
        assert wire.valid_spans(data) == (1 if _api(data).rejected == 0 else None)


def test_the_bench_load(wire):
    data = request(3)
    assert wire.valid_spans(data) == 1000 == _api(data).items


def _random_request(rnd: random.Random, bad: float) -> bytes:
    def ident(n: int) -> bytes:
        if rnd.random() < bad:
            return rnd.choice([b"", bytes(n), b"\x01" * (n + 1), b"\x01" * (n - 1)])
        return bytes(rnd.randrange(256) for _ in range(n - 1)) + b"\x01"

    def span() -> bytes:
        fields = [_len(1, ident(16)), _len(2, ident(8)), _len(5, b"name"), _varint(7 << 3 | 1) + bytes(8)]
        if rnd.random() < 0.5:
            fields.append(_len(4, ident(8) if rnd.random() < 0.9 else b"\x02" * 4))
        if rnd.random() < 0.2:  # an id given twice: the last one counts, as when parsed
            fields.append(_len(rnd.choice([1, 2, 4]), ident(rnd.choice([8, 16]))))
        if rnd.random() < 0.2:  # unknown fields of every wire type
            fields.append(_varint(40 << 3) + _varint(rnd.randrange(1 << 40)))
            fields.append(_varint(41 << 3 | 5) + bytes(4))
            fields.append(_len(42, b"xyz"))
        rnd.shuffle(fields)
        return b"".join(fields)

    out = b""
    for _ in range(rnd.randint(0, 3)):
        rs = _len(1, _len(1, _len(1, b"service.name")))  # resource
        for _ in range(rnd.randint(0, 3)):
            ss = _len(1, _len(1, b"scope")) + b"".join(_len(2, span()) for _ in range(rnd.randint(0, 5)))
            if rnd.random() < 0.2:
                ss += _len(3, b"https://schema")
            rs += _len(2, ss)
        if rnd.random() < 0.2:
            rs += _len(3, b"https://schema") + _varint(50 << 3) + _varint(1)
        out += _len(1, rs)
    return out


def test_random_requests(wire):
    rnd = random.Random(11)
    counted = declined = 0
    for _ in range(3000):
        got = assert_agrees(wire, _random_request(rnd, bad=rnd.choice([0.0, 0.0, 0.05])))
        counted += got is not None
        declined += got is None
    assert counted > 1000 and declined > 300


def corrupted(rnd: random.Random, data: bytes) -> bytes:
    """``data`` with 1-3 random bytes changed or its tail cut."""
    out = bytearray(data)
    for _ in range(rnd.randint(1, 3)):
        if out and rnd.random() < 0.7:
            out[rnd.randrange(len(out))] = rnd.randrange(256)
        else:
            del out[rnd.randrange(len(out) + 1):]
    return bytes(out)


def test_random_corruptions_are_counted_exactly_or_declined(wire):
    rnd = random.Random(5)
    counted = 0
    for _ in range(3000):
        data = corrupted(rnd, _random_request(rnd, bad=0.0))
        try:
            ExportTraceServiceRequest.FromString(data)
        except Exception:
            continue  # the receiver answers 400 before any check
        counted += assert_agrees(wire, data) is not None
    assert counted > 300


def test_a_known_field_with_another_wire_type_is_declined(wire):
    span = _len(1, b"\x01" * 16) + _len(2, b"\x01" * 8)
    assert wire.valid_spans(_len(1, _len(2, _len(2, span)))) == 1
    assert wire.valid_spans(_len(1, _len(2, _len(2, span + _varint(1 << 3) + _varint(5))))) is None
    assert wire.valid_spans(_len(1, _len(2, _varint(2 << 3) + _varint(5)))) is None
    assert wire.valid_spans(_len(1, _varint(2 << 3) + _varint(5))) is None
    assert wire.valid_spans(_varint(1 << 3) + _varint(5)) is None


def test_check_counts_valid_spans_from_the_wire_without_reading_each_span(wire, monkeypatch):
    data = request(0)
    monkeypatch.setattr(otlp, "_bad_span", lambda span: pytest.fail("a span was read through the API"))
    req = ExportTraceServiceRequest.FromString(data)
    assert otlp.check(otlp.TRACES, req, data) == otlp.Checked(1000, 0, "")


def test_check_with_a_bad_span_drops_it_through_the_api(wire):
    req = ExportTraceServiceRequest.FromString(request(0))
    req.resource_spans[0].scope_spans[0].spans[7].span_id = bytes(8)
    data = req.SerializeToString()
    checked = otlp.check(otlp.TRACES, req, data)
    assert (checked.items, checked.rejected) == (999, 1)
    assert len(req.resource_spans[0].scope_spans[0].spans) == 999


def test_without_the_compiled_module_check_reads_the_spans_through_the_api(monkeypatch):
    monkeypatch.setattr(otlp, "WIRE", None)  # the pure-Python path (not built, or OTEL_COT_NATIVE=off)
    data = request(0)
    read = []
    bad_span = otlp._bad_span
    monkeypatch.setattr(otlp, "_bad_span", lambda span: read.append(span) or bad_span(span))
    assert otlp.check(otlp.TRACES, ExportTraceServiceRequest.FromString(data), data) == otlp.Checked(1000, 0, "")
    assert len(read) == 1000


@pytest.mark.parametrize("make", [bytearray, memoryview])
def test_a_body_that_is_not_bytes_is_checked_through_the_api(wire, make):
    data = request(0)
    assert otlp.check(otlp.TRACES, ExportTraceServiceRequest.FromString(data), make(data)) == \
        otlp.Checked(1000, 0, "")
