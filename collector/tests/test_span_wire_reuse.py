"""A span no processor changed leaves in the bytes it arrived in (``SpanRef.wire``); one a processor changed
leaves serialized, with the change. ``_span_wire.span_wires`` (each span's received bytes, in parse order)
against the protobuf runtime and a reference walk written here, on random requests with repeated, duplicated
and unknown fields, several resources and scopes, fields of another wire type, corruptions; ``request_of``
with the received bytes against ``request_of`` without them; and the pipeline's contract: what a processor
changes is exported, by a processor that clears ``wire`` itself (``detect``) and by one that declares
nothing (the pipeline clears it)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Callable

import pytest
from inprocess_support import DESTRUCTIVE, EXPORTER, HARMLESS, Harness, config, span_id, trace_request
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from otel_cot import semconv
from otel_cot_collector import otlp, pipeline, span_records
from otel_cot_collector.components import default_registry
from otel_cot_collector.processors.grouping import Group, SpanRef, request_of
from otel_cot_collector.registry import Factory, Registry

from throughput import request  # (the load of bench/collector.py)
from test_span_ids_wire import _random_request, corrupted  # (random requests, corruptions)
from test_span_wire import _attribute, _fields, _len, _varint  # (protobuf wire helpers)


@pytest.fixture
def span_wires(span_wire, monkeypatch):
    """The compiled walk, also where the pipeline uses it (under OTEL_COT_NATIVE=off too)."""
    walk = span_wire.span_wires
    monkeypatch.setattr(pipeline, "span_wires", walk)
    return walk


class _Unread(Exception):
    pass


def _payloads(data: bytes, start: int, end: int, wanted: int) -> list[tuple[int, int]]:
    """Reference: (start, end) of each payload of length-delimited field ``wanted`` in data[start:end]."""
    out, pos = [], start
    while pos < end:
        tag, pos = _read_varint(data, pos, end)
        number, wire_type = tag >> 3, tag & 7
        if number == 0 or tag > 0xFFFFFFFF or wire_type not in (0, 1, 2, 5):
            raise _Unread
        if number == wanted and wire_type != 2:
            raise _Unread  # the runtime keeps it as an unknown field: not a span
        if wire_type == 0:
            _, pos = _read_varint(data, pos, end)
        elif wire_type in (1, 5):
            pos += 8 if wire_type == 1 else 4
        else:
            n, pos = _read_varint(data, pos, end)
            if number == wanted:
                out.append((pos, pos + n))
            pos += n
        if pos > end:
            raise _Unread
    return out


def _read_varint(data: bytes, pos: int, end: int) -> tuple[int, int]:
    value = shift = 0
    while shift < 70:
        if pos >= end:
            raise _Unread
        value |= (data[pos] & 0x7F) << shift
        pos += 1
        if data[pos - 1] < 0x80:
            return value, pos
        shift += 7
    raise _Unread


def reference(data: bytes) -> list[bytes] | None:
    try:
        return [data[s:e] for rs, rs_end in _payloads(data, 0, len(data), 1)
                for ss, ss_end in _payloads(data, rs, rs_end, 2) for s, e in _payloads(data, ss, ss_end, 2)]
    except _Unread:
        return None


def parsed_spans(data: bytes) -> list[Span]:
    req = ExportTraceServiceRequest.FromString(data)
    return [s for rs in req.resource_spans for ss in rs.scope_spans for s in ss.spans]


def _duplicated(rnd: random.Random, data: bytes) -> bytes:
    """``data`` (a request) with more shapes: a span whose name and an attribute come twice, a scope with a
    spans field of another wire type (the runtime: an unknown field), a scope given twice (merged)."""
    extra = _len(2, _len(5, b"first") + _len(1, b"\x01" * 16) + _len(2, b"\x02" * 8) + _len(5, b"second")
                 + _len(9, _len(1, b"k") + _len(2, _len(1, b"a"))) + _len(9, _len(1, b"k") + _len(2, _len(1, b"b"))))
    choice = rnd.random()
    if choice < 0.3:
        scope = _len(1, _len(1, b"a")) + extra + _len(1, _len(2, b"1.0"))  # scope field twice: merged
    elif choice < 0.4:
        scope = extra + _varint(2 << 3) + _varint(7)  # field 2 as a varint: unknown, not a span
    else:
        scope = extra
    return data + _len(1, _len(2, scope))


def test_span_wires_are_the_bytes_each_span_was_parsed_from(span_wire):
    walk = span_wire.span_wires
    rnd = random.Random(18)
    read = declined = 0
    for _ in range(3000):
        data = _random_request(rnd, bad=0.0)
        if rnd.random() < 0.5:
            data = _duplicated(rnd, data)
        got = walk(data)
        assert got == reference(data)
        if got is None:
            declined += 1
            continue
        read += 1
        spans = parsed_spans(data)
        assert [Span.FromString(w) for w in got] == spans  # same messages, in the same order
    assert read > 2000 and declined > 100


def test_span_wires_on_corrupted_requests_are_exact_or_declined(span_wire):
    walk = span_wire.span_wires
    rnd = random.Random(7)
    read = 0
    for _ in range(3000):
        data = corrupted(rnd, _random_request(rnd, bad=0.0))
        try:
            spans = parsed_spans(data)
        except Exception:
            continue  # the receiver answers 400: never queued
        got = walk(data)
        assert got == reference(data)
        if got is not None:
            read += 1
            assert [Span.FromString(w) for w in got] == spans
    assert read > 300


def test_the_bench_load_is_read(span_wire):
    walk = span_wire.span_wires
    data = request(2)
    assert walk(data) == [s.SerializeToString() for s in parsed_spans(data)]


def refs_with_wires(data: bytes, walk) -> list[SpanRef]:
    req = ExportTraceServiceRequest.FromString(data)
    wires = iter(walk(data))
    return [SpanRef(rs, ss, s, 1, next(wires)) for rs in req.resource_spans for ss in rs.scope_spans
            for s in ss.spans]


def test_request_of_from_received_bytes_is_the_serialized_request_parsed_and_the_received_bytes_in_it(span_wire):
    walk = span_wire.span_wires
    rnd = random.Random(3)
    checked = 0
    for _ in range(1500):
        data = _duplicated(rnd, _random_request(rnd, bad=0.0)) if rnd.random() < 0.5 else \
            _random_request(rnd, bad=0.0)
        if walk(data) is None:
            continue
        refs = refs_with_wires(data, walk)
        if rnd.random() < 0.5:  # interleaved resources and scopes, as traces leave the grouper
            rnd.shuffle(refs)
        framed = request_of(refs)
        serialized = request_of([SpanRef(r.resource, r.scope, r.span, r.inbox_id) for r in refs])
        assert ExportTraceServiceRequest.FromString(framed) == ExportTraceServiceRequest.FromString(serialized)
        by_span = {id(r.span): r.wire for r in refs}
        in_order = [by_span[id(s)] for s in parsed_spans_of(refs)]
        assert walk(framed) == in_order  # each unchanged span byte-identical to what came in
        checked += 1
    assert checked > 1000


def parsed_spans_of(refs: list[SpanRef]) -> list[Span]:
    """The spans of ``refs`` in the order request_of puts them: by resource, then scope, first seen first."""
    order: dict[int, dict[int, list]] = {}
    for r in refs:
        order.setdefault(id(r.resource), {}).setdefault(id(r.scope), []).append(r.span)
    return [s for scopes in order.values() for spans in scopes.values() for s in spans]


def received_spans(walk: Callable[[bytes], list[bytes]], data: bytes) -> dict[bytes, bytes]:
    return {Span.FromString(w).span_id: w for w in walk(data)}


def _twice_named(data: bytes) -> bytes:
    """``data`` with each span's name given twice, ``stale`` first (the last counts): serializing the parsed
    span again gives other bytes, so a span exported in its received bytes shows."""
    req = ExportTraceServiceRequest.FromString(data)
    out = b""
    for rs in req.resource_spans:
        body = _len(1, rs.resource.SerializeToString())
        for ss in rs.scope_spans:
            body += _len(2, _len(1, ss.scope.SerializeToString()) + b"".join(
                _len(2, _len(5, b"stale") + s.SerializeToString()) for s in ss.spans))
        out += _len(1, body)
    return out


@pytest.fixture
def harness(tmp_path):
    made: list[Harness] = []

    def make(registry: Registry | None = None, **kwargs) -> Harness:
        path = str(tmp_path / f"q{len(made)}")
        h = Harness(path, config(path, **kwargs), registry)
        made.append(h)
        return h

    yield make
    for h in made:
        h.close()


def test_unchanged_spans_leave_in_their_received_bytes_and_annotated_ones_with_their_findings(harness,
                                                                                               span_wires):
    h = harness(traces=["group_by_trace", "detect"], processors={"group_by_trace": {}, "detect": {"timeout": 0}})
    data = _twice_named(trace_request((1, 1, DESTRUCTIVE), (1, 2, HARMLESS), (2, 3, HARMLESS)))
    received = received_spans(span_wires, data)
    assert len(received) == 3 and _len(5, b"stale") in received[span_id(2)]
    h.add(otlp.TRACES, data)
    h.pipeline.step(force=True)
    [out] = h.outbox(otlp.TRACES, EXPORTER)
    sent = received_spans(span_wires, out)
    assert sent[span_id(2)] == received[span_id(2)] and sent[span_id(3)] == received[span_id(3)]
    flagged = Span.FromString(sent[span_id(1)])  # changed by detect: serialized with its finding
    assert otlp.attributes_of(flagged.attributes)[semconv.COT_FLAGGED] is True
    assert any(e.name == semconv.GEN_AI_EVALUATION_RESULT_EVENT for e in flagged.events)
    assert _len(5, b"stale") not in sent[span_id(1)] and flagged.name == "execute_tool s1"


@dataclass
class RenameConfig:
    pass


class Rename:
    """Renames every span, declaring nothing about it (``span_writes`` left at its default)."""

    def traces(self, groups: list[Group]) -> list[Group]:
        for group in groups:
            for ref in group.spans:
                ref.span.name = "renamed"
        return groups


def _registry(**declared) -> Registry:
    registry = default_registry()
    registry.register(Factory(kind="processor", type="rename", config=RenameConfig,
                              parse=lambda s, d: d, create=lambda cfg, ctx: Rename(), signals=("traces",),
                              **declared))
    return registry


def test_a_processor_that_declares_nothing_gets_spans_without_their_received_bytes(harness, span_wires):
    h = harness(_registry(), traces=["group_by_trace", "rename"], processors={"group_by_trace": {}, "rename": {}})
    h.add(otlp.TRACES, _twice_named(trace_request((1, 1, HARMLESS), (2, 2, HARMLESS))))
    h.pipeline.step(force=True)
    assert {s.name for s in h.spans().values()} == {"renamed"}


def test_what_a_processor_declaring_no_span_writes_changes_is_not_exported(harness, span_wires):
    # The declaration is trusted: this shows what it is for (a wrong one would export the received bytes).
    h = harness(_registry(span_writes="none"), traces=["group_by_trace", "rename"],
                processors={"group_by_trace": {}, "rename": {}})
    h.add(otlp.TRACES, _twice_named(trace_request((1, 1, HARMLESS))))
    h.pipeline.step(force=True)
    assert {s.name for s in h.spans().values()} == {"execute_tool s1"}


def test_a_factory_declares_one_of_the_known_span_writes():
    with pytest.raises(ValueError, match="span_writes must be one of any, clears, none"):
        Factory(kind="processor", type="x", config=RenameConfig, parse=lambda s, d: d,
                create=lambda c, x: None, span_writes="some")


def test_the_built_in_declarations():
    registry = default_registry()
    declared = {t: registry.factory("processor", t).span_writes for t in registry.types("processor")}
    assert declared == {"group_by_trace": "none", "detect": "clears", "monitor": "none", "sampling": "none",
                        "findings_metrics": "any"}


def test_a_request_handed_over_by_the_receiver_keeps_its_spans_bytes(harness, span_wires):
    h = harness(traces=["group_by_trace"], processors={"group_by_trace": {}})
    data = _twice_named(trace_request((1, 1, HARMLESS), (2, 2, HARMLESS)))
    h.store.append(otlp.TRACES.code, data, ExportTraceServiceRequest.FromString(data)).result(timeout=10)
    h.pipeline.step(force=True)
    [out] = h.outbox(otlp.TRACES, EXPORTER)
    assert out == data


def test_a_walk_that_does_not_match_the_parsed_spans_is_not_used(harness, monkeypatch):
    monkeypatch.setattr(pipeline, "span_wires", lambda data: [b"\x2a\x05stale"])  # one span short
    h = harness(traces=["group_by_trace"], processors={"group_by_trace": {}})
    h.add(otlp.TRACES, trace_request((1, 1, HARMLESS), (2, 2, HARMLESS)))
    h.pipeline.step(force=True)
    assert {s.name for s in h.spans().values()} == {"execute_tool s1", "execute_tool s2"}


def test_a_record_read_from_the_received_bytes_is_the_one_read_through_the_api(span_wire, monkeypatch):
    wire = span_wire
    monkeypatch.setattr(span_records, "_WIRE", wire)
    rnd = random.Random(29)
    odd = [_len(5, b"stale") + _len(5, b"name"),
           _attribute(b"k", _len(1, b"a")) + _attribute(b"k", _len(1, b"b")),
           _len(9, _len(1, b"k") + _len(2, _len(1, b"a")) * 2),  # two values: they merge (declined, the API)
           _attribute(b"k", _len(1, b"a") + _varint(3 << 3) + b"\x05"),  # two kinds in one AnyValue
           _len(1, b"\x03" * 16) + _len(2, b"\x04" * 8) + _len(4, b"\x05" * 8), _varint(60 << 3) + _varint(9)]
    checked = 0
    for _ in range(1500):
        data = _random_request(rnd, bad=0.0)
        wires = wire.span_wires(data)
        if not wires:
            continue
        req = ExportTraceServiceRequest()
        rs = req.resource_spans.add()
        ss = rs.scope_spans.add()
        for w in wires:  # each span with some of the odd shapes appended (the last name or id counts)
            w += b"".join(rnd.sample(odd, rnd.randint(0, 3)))
            ss.spans.add().MergeFromString(w)
            ref = SpanRef(rs, ss, ss.spans[-1], 1, w)
            assert _fields(span_records.compiled_ref_record(ref)) == _fields(
                span_records.python_span_record(Span.FromString(w)))
            checked += 1
    assert checked > 3000
