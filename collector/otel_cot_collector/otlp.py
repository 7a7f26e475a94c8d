"""OTLP message plumbing shared by receivers, processors and exporters: the three signals, OTLP/JSON with
hex ids, request validation (for ``partial_success``) and attribute conversion."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from google.protobuf import json_format
from google.protobuf.message import Message
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2 as logs_svc
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2 as metrics_svc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2 as trace_svc
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from otel_cot import native

# The optional C reader of OTLP wire bytes (otel_cot/native.py): span records (span_records.py) and the
# receivers' id check (check); None on the pure-Python path.
WIRE = native.load("otel_cot_collector._span_wire", Path(__file__).with_name("_span_wire.c"))


@dataclass(frozen=True)
class Signal:
    name: str  # traces | logs | metrics
    code: int  # stored in the queue
    request: type
    response: type
    grpc_service: str
    http_path: str


TRACES = Signal("traces", 1, trace_svc.ExportTraceServiceRequest, trace_svc.ExportTraceServiceResponse,
                "opentelemetry.proto.collector.trace.v1.TraceService", "/v1/traces")
LOGS = Signal("logs", 2, logs_svc.ExportLogsServiceRequest, logs_svc.ExportLogsServiceResponse,
              "opentelemetry.proto.collector.logs.v1.LogsService", "/v1/logs")
METRICS = Signal("metrics", 3, metrics_svc.ExportMetricsServiceRequest, metrics_svc.ExportMetricsServiceResponse,
                 "opentelemetry.proto.collector.metrics.v1.MetricsService", "/v1/metrics")
SIGNALS = {s.name: s for s in (TRACES, LOGS, METRICS)}
BY_CODE = {s.code: s for s in (TRACES, LOGS, METRICS)}

# --- OTLP/JSON ------------------------------------------------------------------------------------
_IDS = ("traceId", "spanId", "parentSpanId")


def _ids(o: Any, f: Callable[[str], str]) -> Any:
    if isinstance(o, dict):
        for k, v in o.items():
            if k in _IDS and isinstance(v, str) and v:
                o[k] = f(v)
            else:
                _ids(v, f)
    elif isinstance(o, list):
        for v in o:
            _ids(v, f)
    return o


def _hex_to_b64(h: str) -> str:
    # json_format would silently base64-decode a hex id into the wrong bytes: convert first.
    return base64.b64encode(bytes.fromhex(h)).decode()


def from_json(body: bytes, msg: Message) -> Message:
    """Parse OTLP/JSON (hex ids) into ``msg``; raises ValueError with a message on bad input."""
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"invalid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise ValueError("invalid OTLP/JSON: the body must be a JSON object")
    try:
        _ids(doc, _hex_to_b64)
    except ValueError:
        raise ValueError("invalid OTLP/JSON: traceId/spanId/parentSpanId must be hex strings") from None
    try:
        return json_format.ParseDict(doc, msg, ignore_unknown_fields=True)
    except (json_format.ParseError, TypeError, ValueError, RecursionError) as exc:
        raise ValueError(f"invalid OTLP/JSON: {str(exc)[:300]}") from None


def to_json(msg: Message) -> bytes:
    d = json_format.MessageToDict(msg, use_integers_for_enums=True)
    return json.dumps(_ids(d, lambda b: base64.b64decode(b).hex())).encode()


# --- validation -----------------------------------------------------------------------------------
@dataclass
class Checked:
    items: int  # spans, log records or data points accepted
    rejected: int
    message: str


def check(signal: Signal, req: Message, wire: bytes | None = None) -> Checked:
    """Count items and drop the ones a backend would refuse (bad ids); mutates ``req``. ``wire``: the bytes
    ``req`` was parsed from, if any; with the C reader, spans whose ids are all valid are counted from them
    without a Python object per span (the common case), else ``req`` is checked span by span."""
    if signal is TRACES:
        if WIRE is not None and type(wire) is bytes:  # (a receiver's body; anything else: the API path)
            count = WIRE.valid_spans(wire)
            if count is not None:
                return Checked(count, 0, "")
        return _check_spans(req)
    if signal is LOGS:
        return _check_logs(req)
    return Checked(_count_points(req), 0, "")


def _check_spans(req: Any) -> Checked:
    return _drop_invalid((ss.spans for rs in req.resource_spans for ss in rs.scope_spans), _bad_span,
                         "span(s) rejected: trace_id must be 16 bytes and span_id 8 bytes, not all zero")


def _check_logs(req: Any) -> Checked:
    return _drop_invalid((sl.log_records for rl in req.resource_logs for sl in rl.scope_logs), _bad_log_record,
                         "log record(s) rejected: trace_id must be empty or 16 bytes, span_id empty or 8")


_ZERO_TRACE_ID, _ZERO_SPAN_ID = bytes(16), bytes(8)


def _bad_span(sp: Any) -> bool:
    trace_id, span_id = sp.trace_id, sp.span_id
    return (len(trace_id) != 16 or len(span_id) != 8 or trace_id == _ZERO_TRACE_ID or span_id == _ZERO_SPAN_ID
            or len(sp.parent_span_id) not in (0, 8))


def _bad_log_record(lr: Any) -> bool:
    return len(lr.trace_id) not in (0, 16) or len(lr.span_id) not in (0, 8)


def _drop_invalid(groups: Any, bad: Callable[[Any], bool], what: str) -> Checked:
    """Delete the items ``bad`` finds from each repeated field of ``groups``; the count left and the count
    rejected, with ``what`` after the rejected count as the message."""
    items = rejected = 0
    for group in groups:
        invalid = [i for i, item in enumerate(group) if bad(item)]
        for i in reversed(invalid):
            del group[i]
        rejected += len(invalid)
        items += len(group)
    return Checked(items, rejected, f"{rejected} {what}" if rejected else "")


def _count_points(req: Any) -> int:
    n = 0
    for rm in req.resource_metrics:
        for sm in rm.scope_metrics:
            for m in sm.metrics:
                kind = m.WhichOneof("data")
                if kind:
                    n += len(getattr(m, kind).data_points)
    return n


def partial_success(signal: Signal, resp: Message, rejected: int, message: str) -> None:
    field = {"traces": "rejected_spans", "logs": "rejected_log_records", "metrics": "rejected_data_points"}
    setattr(resp.partial_success, field[signal.name], rejected)
    resp.partial_success.error_message = message[:4096]


# --- attributes -----------------------------------------------------------------------------------
def value_of(v: AnyValue) -> Any:
    kind = v.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return tuple(value_of(x) for x in v.array_value.values)
    if kind == "kvlist_value":
        return {kv.key: value_of(kv.value) for kv in v.kvlist_value.values}
    return getattr(v, kind)


SHARED_KEYS: dict[str, str] = {}  # attribute keys seen, shared: a held span's dict does not own copies of them
MAX_SHARED_KEYS = 4096  # then keys already there are still shared, new ones not added


def attributes_of(kvs: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    keys = SHARED_KEYS
    shared = keys.setdefault if len(keys) < MAX_SHARED_KEYS else keys.get
    for kv in kvs:
        key = kv.key
        key = shared(key, key)
        v = kv.value
        # A non-empty string_value means the oneof holds a string (the common case, no dispatch); an
        # empty one is either "" or another kind, which value_of sorts out.
        out[key] = v.string_value or value_of(v)
    return out


def set_value(target: AnyValue, value: Any) -> None:
    if isinstance(value, bool):
        target.bool_value = value
    elif isinstance(value, int):
        target.int_value = value
    elif isinstance(value, float):
        target.double_value = value
    elif isinstance(value, (tuple, list)):
        arr = target.array_value
        del arr.values[:]
        for item in value:
            set_value(arr.values.add(), item)
    else:
        target.string_value = str(value)


def put_attributes(kvs: Any, values: dict[str, Any]) -> None:
    """Set ``values`` on a repeated KeyValue field, replacing keys that are already there."""
    remaining = dict(values)
    for kv in kvs:
        if kv.key in remaining:
            set_value(kv.value, remaining.pop(kv.key))
    for key, value in remaining.items():
        kv = kvs.add(key=key)
        set_value(kv.value, value)


def key_values(values: dict[str, Any]) -> list[KeyValue]:
    out = []
    for key, value in values.items():
        kv = KeyValue(key=key)
        set_value(kv.value, value)
        out.append(kv)
    return out


_NESTING = {"traces": ("resource_spans", "scope_spans", "spans"),
            "logs": ("resource_logs", "scope_logs", "log_records"),
            "metrics": ("resource_metrics", "scope_metrics", "metrics")}


def split(signal: Signal, body: bytes) -> list[bytes] | None:
    """Two requests holding the halves of ``body``'s data (split at the outermost level with more than one
    entry), or None when it holds a single item."""
    fields = _NESTING[signal.name]
    node: Any = signal.request.FromString(body)
    for depth, name in enumerate(fields):
        entries = getattr(node, name)
        if len(entries) == 0:
            return None
        if len(entries) > 1:
            half = len(entries) // 2
            parts = []
            for keep in (slice(half, None), slice(0, half)):  # the slice to delete
                part = signal.request.FromString(body)
                target = part
                for f in fields[:depth]:
                    target = getattr(target, f)[0]
                del getattr(target, name)[keep]
                parts.append(part.SerializeToString())
            return parts
        node = entries[0]
    return None
