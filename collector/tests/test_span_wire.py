"""The compiled span record (``_span_wire``, read from a span's wire bytes) against the record read through
the protobuf API (``python_span_record``): the same record, value types and shared keys on the bench load,
on every AnyValue kind, on random spans and on edge and malformed input; where it declines (returns None),
``compiled_span_record`` gives the API's record."""

from __future__ import annotations

import math
import random
import struct
import sys

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from otel_cot.detectors import SpanRecord
from otel_cot.native import field_setter
from otel_cot_collector import otlp, span_records

from throughput import request  # (the load of bench/collector.py)


@pytest.fixture
def wire(span_wire, monkeypatch):
    monkeypatch.setattr(span_records, "_WIRE", span_wire)  # under OTEL_COT_NATIVE=off too
    return span_wire


def _typed(value):
    """``value`` with every leaf's type: True and 1, 0.0 and -0.0, NaN and NaN compare as they should."""
    if isinstance(value, tuple):
        return ("tuple", tuple(_typed(v) for v in value))
    if isinstance(value, dict):
        return ("dict", [(type(k), k, _typed(v)) for k, v in value.items()])
    if isinstance(value, float):
        return ("float", struct.pack("<d", value) if not math.isnan(value) else "nan")
    return (type(value).__name__, value)


def _fields(record: SpanRecord):
    return (type(record), record.trace_id, record.span_id, record.name, _typed(dict(record.attributes)),
            record.start_time_ns, record.end_time_ns, record.parent_span_id,
            [type(x) for x in (record.start_time_ns, record.end_time_ns)])


def _read(wire, data: bytes, make=SpanRecord.of):
    return wire.record(data, otlp.SHARED_KEYS, otlp.MAX_SHARED_KEYS, make)


def assert_same(wire, span: Span) -> SpanRecord:
    want = span_records.python_span_record(span)
    got = _read(wire, span.SerializeToString())
    assert got is not None, span
    assert _fields(got) == _fields(want)
    assert got == want
    for key in got.attributes:  # the attribute keys are the shared ones, as attributes_of's are
        assert next(k for k in otlp.SHARED_KEYS if k == key) is key
    assert sys.getsizeof(got.attributes) == sys.getsizeof(want.attributes)
    return got


def test_the_bench_load(wire):
    req = ExportTraceServiceRequest.FromString(request(3))
    spans = [s for rs in req.resource_spans for ss in rs.scope_spans for s in ss.spans]
    assert len(spans) == 1000
    make = field_setter(SpanRecord)
    for span in spans:
        assert_same(wire, span)
        assert _read(wire, span.SerializeToString(), make) == span_records.python_span_record(span)


def _value(v: AnyValue, rnd: random.Random, depth: int = 0) -> None:
    kind = rnd.choice(["string", "empty", "unicode", "int", "zero", "negative", "bool", "false", "double",
                       "bytes", "array", "kvlist", "unset", "empty_array", "empty_kvlist"])
    if kind == "string":
        v.string_value = rnd.choice(["x", "bash", "0", "False", "a" * rnd.randint(1, 300)])
    elif kind == "empty":
        v.string_value = ""
    elif kind == "unicode":
        v.string_value = rnd.choice(["é", "日本語", "🙂 emoji", "\x00nul", "\u2028", "ü" * 200])
    elif kind in ("int", "zero", "negative"):
        v.int_value = {"zero": 0, "negative": rnd.choice([-1, -(2 ** 63), -300]),
                       "int": rnd.choice([1, 127, 128, 2 ** 63 - 1, 2 ** 35])}[kind]
    elif kind in ("bool", "false"):
        v.bool_value = kind == "bool"
    elif kind == "double":
        v.double_value = rnd.choice([0.0, -0.0, 1.5, -2.25e300, float("inf"), 5e-324])
    elif kind == "bytes":
        v.bytes_value = rnd.choice([b"", b"\x00\xff", bytes(range(256))])
    elif kind == "empty_array":
        v.array_value.SetInParent()
    elif kind == "empty_kvlist":
        v.kvlist_value.SetInParent()
    elif kind == "array" and depth < 4:
        v.array_value.SetInParent()
        for _ in range(rnd.randint(0, 4)):
            _value(v.array_value.values.add(), rnd, depth + 1)
    elif kind == "kvlist" and depth < 4:
        v.kvlist_value.SetInParent()
        for i in range(rnd.randint(0, 4)):
            _value(v.kvlist_value.values.add(key=rnd.choice(["k", "k", f"k{i}", "é", ""])).value, rnd, depth + 1)


def _random_span(rnd: random.Random, skipped_fields: bool = True) -> Span:
    span = Span(trace_id=rnd.randbytes(rnd.choice([16, 16, 0, 1, 7, 32])),
                span_id=rnd.randbytes(rnd.choice([8, 8, 0, 3])),
                parent_span_id=rnd.randbytes(rnd.choice([0, 8, 8, 5])),
                name=rnd.choice(["", "chat gpt-4o", "execute_tool bash", "ünïcode", "n" * 1000]),
                start_time_unix_nano=rnd.choice([0, 1, 2 ** 64 - 1, 1_700_000_000_000_000_000]),
                end_time_unix_nano=rnd.choice([0, 2, 2 ** 63]),
                trace_state=rnd.choice(["", "a=b"]), kind=rnd.randint(0, 5), flags=rnd.choice([0, 0x301]),
                dropped_attributes_count=rnd.choice([0, 3]))
    if not skipped_fields:
        span.ClearField("trace_state")
    elif rnd.random() < 0.3:
        event = span.events.add(name="e", time_unix_nano=5)
        event.attributes.add(key="gen_ai.tool.name").value.string_value = "not an attribute of the span"
    if skipped_fields and rnd.random() < 0.2:
        span.links.add(trace_id=b"\x01" * 16, span_id=b"\x02" * 8)
    if skipped_fields and rnd.random() < 0.3:
        span.status.code = 2
        span.status.message = "failed"
    keys = ["gen_ai.tool.name", "gen_ai.tool.call.arguments", "k", "é", "", "dup"]
    for _ in range(rnd.randint(0, 8)):
        kv = span.attributes.add(key=rnd.choice(keys) if rnd.random() < 0.8 else f"rnd.{rnd.randint(0, 30)}")
        if rnd.random() < 0.9:  # else a KeyValue without a value
            _value(kv.value, rnd)
    return span


def test_random_spans_with_every_anyvalue_kind(wire):
    rnd = random.Random(18)
    kinds = set()
    for _ in range(3000):
        span = _random_span(rnd)
        kinds.update(kv.value.WhichOneof("value") for kv in span.attributes)
        assert_same(wire, span)
    assert kinds == {None, "string_value", "bool_value", "int_value", "double_value", "bytes_value",
                     "array_value", "kvlist_value"}


def test_edge_spans(wire):
    huge = Span(trace_id=b"\xab" * 16, name="x" * 2_000_000)
    huge.attributes.add(key="big").value.string_value = "é" * 3_000_000
    nested = Span()
    v = nested.attributes.add(key="nested").value
    for _ in range(40):  # nested arrays, within the compiled depth
        v = v.array_value.values.add()
    v.string_value = "deep"
    duplicate = Span()
    for value in ("first", "second"):
        duplicate.attributes.add(key="dup").value.string_value = value
    for span in (Span(), huge, nested, duplicate):
        got = assert_same(wire, span)
    assert list(got.attributes.items()) == [("dup", "second")]
    nan = Span()
    nan.attributes.add(key="nan").value.double_value = float("nan")  # not == itself: _fields compares it
    assert _fields(_read(wire, nan.SerializeToString())) == _fields(span_records.python_span_record(nan))
    assert _read(wire, Span().SerializeToString()).parent_span_id is None


def _tag(number: int, wire_type: int) -> bytes:
    return _varint(number << 3 | wire_type)


def _varint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _len(number: int, payload: bytes) -> bytes:
    return _tag(number, 2) + _varint(len(payload)) + payload


def _attribute(key: bytes, value: bytes) -> bytes:
    return _len(9, _len(1, key) + _len(2, value))


DECLINED = {  # wire data the protobuf runtime reads otherwise than field by field: left to it
    "two kinds in one AnyValue": _attribute(b"k", _len(1, b"a") + _tag(3, 0) + _varint(5)),
    "two arrays in one AnyValue (they merge)": _attribute(b"k", _len(5, _len(1, _len(1, b"a"))) * 2),
    "two values in one KeyValue (they merge)": _len(9, _len(1, b"k") + _len(2, _len(1, b"a")) * 2),
    "an AnyValue field of a later protocol": _attribute(b"k", _tag(8, 0) + _varint(1)),
    "a string AnyValue as a varint": _attribute(b"k", _tag(1, 0) + _varint(1)),
    "the name as a varint": _tag(5, 0) + _varint(1),
    "a time as a varint": _tag(7, 0) + _varint(1),
    "attributes as a varint": _tag(9, 0) + _varint(1),
    "a key as a varint": _len(9, _tag(1, 0) + _varint(1)),
    "array values as a varint": _attribute(b"k", _len(5, _tag(1, 0) + _varint(1))),
    "a group (protobuf skips it)": _tag(20, 3) + _tag(20, 4),
}
MALFORMED = {  # not a Span at all: the protobuf runtime raises on these
    "truncated length": _tag(5, 2) + _varint(10) + b"abc",
    "truncated fixed64": _tag(7, 1) + b"\x01\x02",
    "an endless varint": _tag(6, 0) + b"\xff" * 11,
    "field number 0": _tag(0, 0) + b"\x00",
    "a key that is not UTF-8": _len(9, _len(1, b"\xff\xfe")),
    "a name that is not UTF-8": _len(5, b"caf\xe9"),
    "a string value that is not UTF-8": _attribute(b"k", _len(1, b"\xc3")),
    "a truncated attribute": _len(9, _len(1, b"k")[:-1]),
}


@pytest.mark.parametrize("data", DECLINED.values(), ids=DECLINED.keys())
def test_what_it_does_not_read_exactly_goes_to_the_api(wire, data):
    assert _read(wire, data) is None
    span = Span.FromString(data)
    assert _fields(span_records.compiled_span_record(span)) == _fields(span_records.python_span_record(span))


@pytest.mark.parametrize("data", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_wire_data_is_declined(wire, data):
    assert _read(wire, data) is None
    with pytest.raises(Exception):
        Span.FromString(data)


def test_unknown_fields_are_skipped_as_protobuf_skips_them(wire):
    data = (_len(5, b"n") + _tag(40, 0) + _varint(2 ** 63) + _tag(41, 1) + b"\0" * 8 + _tag(42, 5) + b"\0" * 4
            + _len(43, b"xyz") + _len(9, _len(1, b"k") + _tag(7, 0) + _varint(1) + _len(2, _len(1, b"v")))
            + _attribute(b"a", _len(5, _tag(2, 0) + _varint(1) + _len(1, _tag(4, 1) + b"\0" * 8))))
    span = Span.FromString(data)
    got = _read(wire, data)
    assert got is not None and _fields(got) == _fields(span_records.python_span_record(span))
    assert got.attributes == {"k": "v", "a": (0.0,)}


def test_random_corruptions_are_read_exactly_or_declined(wire):
    # spans without the fields it skips unread (events, links, status, trace_state): a corruption inside
    # those is not seen (its input is what a Span serialized, see _span_wire.c)
    rnd = random.Random(7)
    read = declined = 0
    for _ in range(3000):
        data = bytearray(_random_span(rnd, skipped_fields=False).SerializeToString())
        for _ in range(rnd.randint(1, 3)):
            if data and rnd.random() < 0.7:
                data[rnd.randrange(len(data))] = rnd.randrange(256)
            else:
                del data[rnd.randrange(len(data) + 1):]
        got = _read(wire, bytes(data))
        try:
            span = Span.FromString(bytes(data))
        except Exception:
            assert got is None
            declined += 1
            continue
        if got is None:
            declined += 1
        else:
            assert _fields(got) == _fields(span_records.python_span_record(span))
            read += 1
    assert read > 300 and declined > 300


def test_deeper_than_the_compiled_limit_goes_to_the_api(wire):
    span = Span()
    v = span.attributes.add(key="deep").value
    for _ in range(90):
        v = v.kvlist_value.values.add(key="k").value
    v.int_value = 1
    assert _read(wire, span.SerializeToString()) is None
    assert span_records.compiled_span_record(span) == span_records.python_span_record(span)


def test_new_keys_are_shared_until_the_table_is_full_as_attributes_of_does(wire, monkeypatch):
    monkeypatch.setattr(otlp, "SHARED_KEYS", {})
    monkeypatch.setattr(otlp, "MAX_SHARED_KEYS", 1)
    span = Span()
    for key in ("one", "two"):  # counted once per span, as attributes_of does: both are added
        span.attributes.add(key=key).value.int_value = 1
    _read(wire, span.SerializeToString())
    assert list(otlp.SHARED_KEYS) == ["one", "two"]
    later = Span()
    later.attributes.add(key="three").value.int_value = 3
    later.attributes.add(key="one").value.int_value = 1
    got = _read(wire, later.SerializeToString())
    assert list(otlp.SHARED_KEYS) == ["one", "two"]  # full: "three" is not added, "one" is the shared one
    shared_one = next(k for k in otlp.SHARED_KEYS if k == "one")
    assert [k is shared_one for k in got.attributes] == [False, True]
    otlp.SHARED_KEYS.clear()
    otlp.attributes_of(later.attributes)
    assert list(otlp.SHARED_KEYS) == ["three", "one"]


def test_the_record_comes_from_make(wire):
    seen = []
    assert _read(wire, _len(5, b"n"), lambda *fields: seen.append(fields) or "made") == "made"
    assert seen == [("", "", "n", {}, 0, 0, None)]
    with pytest.raises(ZeroDivisionError):
        _read(wire, _len(5, b"n"), lambda *fields: 1 / 0)
    with pytest.raises(TypeError):
        wire.record("not bytes", otlp.SHARED_KEYS, 1, SpanRecord.of)


def test_the_key_met_last_is_reused_only_while_it_is_the_shared_one(wire, monkeypatch):
    span = Span()
    span.attributes.add(key="gen_ai.tool.name").value.string_value = "bash"
    data = span.SerializeToString()
    first = next(iter(_read(wire, data).attributes))  # now the one _span_wire remembers
    other = "".join(["gen_ai.tool.", "name"])  # equal, another object
    monkeypatch.setattr(otlp, "SHARED_KEYS", {other: other})
    assert next(iter(_read(wire, data).attributes)) is other is not first
    monkeypatch.setattr(otlp, "SHARED_KEYS", {})
    got = next(iter(_read(wire, data).attributes))
    assert otlp.SHARED_KEYS == {got: got} and next(iter(otlp.SHARED_KEYS)) is got
    monkeypatch.setattr(otlp, "MAX_SHARED_KEYS", 0)
    monkeypatch.setattr(otlp, "SHARED_KEYS", {})  # full and without it: a key of its own, the table untouched
    assert next(iter(_read(wire, data).attributes)) is not got and otlp.SHARED_KEYS == {}
