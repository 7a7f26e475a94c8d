"""Thousands of malformed, hostile and oversize requests on both receivers: every one gets a clean OTLP
error or success, the process never crashes, and valid traffic still flows afterwards."""

from __future__ import annotations

import gzip
import json
import random

import grpc
import pytest
import requests
from collector_support import wait_for
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from test_collector_e2e import attrs, raw_span_request

from otel_cot import semconv

pytestmark = pytest.mark.process

MAX_REQUEST = 256 * 1024
PROTOBUF = {"Content-Type": "application/x-protobuf"}


def mutate(rng: random.Random, data: bytes) -> bytes:
    b = bytearray(data)
    choice = rng.randrange(5)
    if choice == 0 and b:  # flip bytes
        for _ in range(rng.randint(1, 8)):
            b[rng.randrange(len(b))] = rng.randrange(256)
    elif choice == 1:  # truncate
        del b[rng.randrange(len(b) + 1):]
    elif choice == 2:  # random bytes
        return rng.randbytes(rng.randint(0, 512))
    elif choice == 3:  # insert junk
        pos = rng.randrange(len(b) + 1)
        b[pos:pos] = rng.randbytes(rng.randint(1, 32))
    else:  # huge length prefix
        b = bytearray(b"\x0a\xff\xff\xff\xff\x0f") + b
    return bytes(b)


def random_json(rng: random.Random, depth: int = 0):
    kind = rng.randrange(8 if depth < 6 else 4)
    if kind == 0:
        return rng.choice([None, True, 1, -1.5, "x", "ff" * 8, "zz", 2**70])
    if kind == 1:
        return "".join(rng.choice("0123456789abcdefg\"\\\u0000é") for _ in range(rng.randint(0, 40)))
    if kind == 2:
        return rng.randint(-2**63, 2**64)
    if kind == 3:
        return []
    keys = ["resourceSpans", "scopeSpans", "spans", "traceId", "spanId", "parentSpanId", "attributes", "key",
            "value", "stringValue", "intValue", "arrayValue", "kvlistValue", "values", "kind", "events", "name"]
    if kind in (4, 5):
        return {rng.choice(keys): random_json(rng, depth + 1) for _ in range(rng.randint(0, 4))}
    return [random_json(rng, depth + 1) for _ in range(rng.randint(0, 3))]


def json_bodies(rng: random.Random, n: int) -> list[bytes]:
    valid = {"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "ab" * 16, "spanId": "cd" * 8,
                                                            "name": "s"}]}]}]}
    out = [b"{", b"[]", b"null", b"\xff\xfe", b"[" * 100_000, json.dumps({"resourceSpans": "x"}).encode(),
           json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "not-hex"}]}]}]}).encode(),
           json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "abcd"}]}]}]}).encode()]
    while len(out) < n:
        if rng.random() < 0.5:
            out.append(json.dumps(random_json(rng)).encode())
        else:
            out.append(mutate(rng, json.dumps(valid).encode()))
    return out


def test_fuzz_http_and_grpc(sink, make_collector):
    collector = make_collector(sink, max_request=MAX_REQUEST).start()
    rng = random.Random(1234)
    valid = raw_span_request("d" * 32, "e" * 16).SerializeToString()
    url = f"http://{collector.http_endpoint}/v1/traces"
    session = requests.Session()
    seen: dict[int, int] = {}

    def send(body: bytes, headers: dict[str, str], path: str = "/v1/traces") -> None:
        r = session.post(f"http://{collector.http_endpoint}{path}", data=body, headers=headers, timeout=30)
        seen[r.status_code] = seen.get(r.status_code, 0) + 1
        assert r.status_code in (200, 400, 404, 413, 415), (r.status_code, r.text[:200])

    for _ in range(1500):
        send(mutate(rng, valid), PROTOBUF, rng.choice(["/v1/traces", "/v1/logs", "/v1/metrics"]))
    for body in json_bodies(rng, 1200):
        send(body, {"Content-Type": "application/json"})
    bomb = gzip.compress(b"\0" * (64 << 20))  # 64 MiB of zeros in ~64 KB
    for _ in range(20):
        send(bomb, {**PROTOBUF, "Content-Encoding": "gzip"})
        send(mutate(rng, gzip.compress(valid)), {**PROTOBUF, "Content-Encoding": "gzip"})
        send(rng.randbytes(MAX_REQUEST + 1), PROTOBUF)
        send(valid, {**PROTOBUF, "Content-Encoding": "br"})
        send(valid, {"Content-Type": "text/plain"})
    assert seen.get(413, 0) >= 40 and seen.get(400, 0) >= 1000 and seen.get(415, 0) >= 40

    channel = grpc.insecure_channel(collector.grpc_endpoint, options=[("grpc.max_send_message_length", 8 << 20)])
    call = channel.unary_unary("/opentelemetry.proto.collector.trace.v1.TraceService/Export",
                               request_serializer=None, response_deserializer=ExportTraceServiceResponse.FromString)
    codes: dict[grpc.StatusCode, int] = {}
    for i in range(1000):
        body = rng.randbytes(MAX_REQUEST + 10) if i % 100 == 0 else mutate(rng, valid)
        try:
            call(body, timeout=30, compression=grpc.Compression.Gzip if i % 3 == 0 else None)
            code = grpc.StatusCode.OK
        except grpc.RpcError as err:
            code = err.code()
        codes[code] = codes.get(code, 0) + 1
        assert code in (grpc.StatusCode.OK, grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.RESOURCE_EXHAUSTED)
    try:  # a compressed bomb: small on the wire, over the cap once inflated
        call(b"\x0a\x00" * (4 << 20), timeout=30, compression=grpc.Compression.Gzip)
        raise AssertionError("expected RESOURCE_EXHAUSTED")
    except grpc.RpcError as err:
        assert err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    channel.close()
    assert codes.get(grpc.StatusCode.RESOURCE_EXHAUSTED, 0) >= 10

    assert collector.alive()
    assert requests.get(collector.ops + "/healthz", timeout=5).status_code == 200
    # The pipeline survived whatever parsed: a real finding still comes out annotated.
    r = session.post(url, data=raw_span_request("f" * 32, "f" * 16, "rm -rf /").SerializeToString(),
                     headers=PROTOBUF, timeout=10)
    assert r.status_code == 200
    span = wait_for(lambda: sink.spans.get("f" * 16), 20, "a valid span after the fuzzing")
    assert attrs(span)[semconv.COT_FLAGGED] is True
