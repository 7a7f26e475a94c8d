"""Read stored traces into :class:`SpanRecord`s: OTLP JSON (the OpenTelemetry Collector file exporter's
one ``{"resourceSpans": ...}`` object per line, or a single such document) and Jaeger's JSON trace
download (``{"data": [{"traceID", "spans": [...]}]}``)."""

from __future__ import annotations

import base64
import json
from typing import Any, Iterator, Mapping

from .views import SpanRecord


def _hex_id(value: Any, width: int) -> str:
    if not value:
        return ""
    s = str(value)
    if len(s) == width and all(c in "0123456789abcdefABCDEF" for c in s):
        return s.lower()
    try:  # OTLP/JSON from some producers: base64 ids
        raw = base64.b64decode(s, validate=True)
        if len(raw) * 2 == width:
            return raw.hex()
    except ValueError:
        pass
    return s.lower().rjust(width, "0")


def _any_value(v: Mapping[str, Any]) -> Any:
    if "stringValue" in v:
        return v["stringValue"]
    if "intValue" in v:
        return int(v["intValue"])
    if "doubleValue" in v:
        return float(v["doubleValue"])
    if "boolValue" in v:
        return bool(v["boolValue"])
    if "arrayValue" in v:
        return tuple(_any_value(x) for x in (v["arrayValue"] or {}).get("values", ()) or ())
    if "kvlistValue" in v:
        return {kv["key"]: _any_value(kv.get("value") or {})
                for kv in (v["kvlistValue"] or {}).get("values", ()) or ()}
    if "bytesValue" in v:
        return v["bytesValue"]
    return None


def otlp_records(document: Mapping[str, Any]) -> Iterator[SpanRecord]:
    for rs in document.get("resourceSpans", ()) or ():
        for ss in rs.get("scopeSpans", rs.get("instrumentationLibrarySpans", ())) or ():
            for span in ss.get("spans", ()) or ():
                attrs = {a["key"]: _any_value(a.get("value") or {}) for a in span.get("attributes", ()) or ()}
                yield SpanRecord(
                    trace_id=_hex_id(span.get("traceId"), 32),
                    span_id=_hex_id(span.get("spanId"), 16),
                    name=span.get("name", ""),
                    attributes=attrs,
                    start_time_ns=int(span.get("startTimeUnixNano") or 0),
                    end_time_ns=int(span.get("endTimeUnixNano") or 0),
                    parent_span_id=_hex_id(span.get("parentSpanId"), 16) or None,
                )


def _jaeger_tag(tag: Mapping[str, Any]) -> Any:
    value = tag.get("value")
    kind = str(tag.get("type", "string")).lower()
    if kind in ("int64", "int"):
        return int(value)
    if kind in ("float64", "float"):
        return float(value)
    if kind == "bool":
        return value if isinstance(value, bool) else str(value).lower() == "true"
    return value


def jaeger_records(document: Mapping[str, Any]) -> Iterator[SpanRecord]:
    for trace in document.get("data", ()) or ():
        for span in trace.get("spans", ()) or ():
            parent = next((r.get("spanID") for r in span.get("references", ()) or ()
                           if r.get("refType") == "CHILD_OF"), None)
            start_us = int(span.get("startTime") or 0)
            duration_us = int(span.get("duration") or 0)
            yield SpanRecord(
                trace_id=_hex_id(span.get("traceID") or trace.get("traceID"), 32),
                span_id=_hex_id(span.get("spanID"), 16),
                name=span.get("operationName", ""),
                attributes={t["key"]: _jaeger_tag(t) for t in span.get("tags", ()) or ()},
                start_time_ns=start_us * 1000,
                end_time_ns=(start_us + duration_us) * 1000,
                parent_span_id=_hex_id(parent, 16) if parent else None,
            )


def records_from_document(document: Any) -> Iterator[SpanRecord]:
    if isinstance(document, Mapping):
        if "resourceSpans" in document:
            yield from otlp_records(document)
        elif "data" in document:
            yield from jaeger_records(document)


def read_trace_file(path: str) -> Iterator[SpanRecord]:
    """Every span in an OTLP JSON (line-per-object or whole-file) or Jaeger JSON file."""
    with open(path, encoding="utf-8") as fh:
        text = fh.read()
    try:
        document = json.loads(text)
    except ValueError:
        document = None
    if document is not None:
        yield from records_from_document(document)
        return
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        try:
            yield from records_from_document(json.loads(line))
        except ValueError as exc:
            raise ValueError(f"{path}:{n}: not JSON ({exc})") from None
