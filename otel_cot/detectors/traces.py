"""Read stored traces into :class:`SpanRecord`s: OTLP JSON (the OpenTelemetry Collector file exporter's
one ``{"resourceSpans": ...}`` object per line, or a single such document), Jaeger's ``/api/v3`` JSON (that
OTLP JSON wrapped in ``{"result": ...}``, one document or one per line as its streaming search answers) and
Jaeger's ``/api/traces`` JSON (``{"data": [{"traceID", "spans": [...]}]}``, also its UI's trace download)."""

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


class InputError(ValueError):
    """A file given on the command line cannot be read as what it should be; the message names the file (and the
    line) and what is wrong."""


class _Shape(ValueError):
    """A document that is JSON but not the shape it claims (the message says where, inside the document)."""


EXPECTED = 'OTLP JSON {"resourceSpans": [...]} or Jaeger API JSON {"result": {...}} / {"data": [...]}'


def json_kind(value: Any) -> str:
    """What a JSON value is, for messages: ``a list``, ``a number``, ``null``..."""
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, (int, float)):
        return "a number"
    return {str: "a string", list: "a list", dict: "an object"}.get(type(value), type(value).__name__)


def _list(value: Any, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise _Shape(f"{where} is {json_kind(value)}, expected a list")
    return value


def _object(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _Shape(f"{where} is {json_kind(value)}, expected an object")
    return value


def otlp_records(document: Mapping[str, Any]) -> Iterator[SpanRecord]:
    for i, rs in enumerate(_list(document.get("resourceSpans"), '"resourceSpans"')):
        rs = _object(rs, f"resourceSpans[{i}]")
        scope_key = "scopeSpans" if "scopeSpans" in rs else "instrumentationLibrarySpans"
        for j, ss in enumerate(_list(rs.get(scope_key), f"resourceSpans[{i}].{scope_key}")):
            ss = _object(ss, f"resourceSpans[{i}].{scope_key}[{j}]")
            for k, span in enumerate(_list(ss.get("spans"), f"resourceSpans[{i}].{scope_key}[{j}].spans")):
                where = f"resourceSpans[{i}].{scope_key}[{j}].spans[{k}]"
                try:
                    span = _object(span, where)
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
                except (KeyError, TypeError, ValueError, AttributeError) as exc:
                    raise _Shape(f"{where} is not an OTLP span ({type(exc).__name__}: {exc})") from None


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
    for i, trace in enumerate(_list(document.get("data"), '"data"')):
        trace = _object(trace, f"data[{i}]")
        for k, span in enumerate(_list(trace.get("spans"), f"data[{i}].spans")):
            where = f"data[{i}].spans[{k}]"
            try:
                span = _object(span, where)
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
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                raise _Shape(f"{where} is not a Jaeger span ({type(exc).__name__}: {exc})") from None


def records_from_document(document: Any) -> Iterator[SpanRecord]:
    """The spans of one JSON document of a shape ``read_trace_file`` knows; ``_Shape`` for any other."""
    if isinstance(document, Mapping):
        if "resourceSpans" in document:
            return otlp_records(document)
        if "result" in document:  # Jaeger's /api/v3 (grpc-gateway): the OTLP JSON is the result
            result = _object(document["result"], '"result"')
            if "resourceSpans" not in result:
                raise _Shape('"result" holds no "resourceSpans"')
            return otlp_records(result)
        if "data" in document:
            return jaeger_records(document)
        if "error" in document or "errors" in document:
            error = document.get("error") or document.get("errors")
            raise _Shape(f"a Jaeger API error response, not traces: {json.dumps(error)[:200]}")
    shape = "an object without any of those keys" if isinstance(document, Mapping) else json_kind(document)
    raise _Shape(f"not a trace file: expected {EXPECTED}; got {shape}")


def read_trace_file(path: str) -> list[SpanRecord]:
    """Every span in an OTLP JSON (one document, or one per line) or Jaeger API JSON file.

    Raises ``InputError`` naming the file (and the line) for a file that cannot be read, is not JSON, is not one
    of those shapes, or holds no span.
    """
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a text file (not UTF-8): expected {EXPECTED}") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    if not text.strip():
        raise InputError(f"{path}: empty file, no spans")
    records: list[SpanRecord] = []
    for line, document in _documents(path, text):
        try:
            records.extend(records_from_document(document))
        except _Shape as exc:
            raise InputError(f"{path}{f':{line}' if line else ''}: {exc}") from None
    if not records:
        raise InputError(f"{path}: no spans in it")
    return records


def _documents(path: str, text: str) -> list[tuple[int | None, Any]]:
    """The file's JSON documents with their line (None for a whole-file document)."""
    try:
        return [(None, json.loads(text))]
    except json.JSONDecodeError as whole:
        lines = [(n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
        try:
            json.loads(lines[0][1])
        except json.JSONDecodeError:  # not one document per line: the error is the whole document's
            raise InputError(f"{path}:{whole.lineno}: not JSON ({whole.msg} at column {whole.colno})") from None
    documents = []
    for n, line in lines:
        try:
            documents.append((n, json.loads(line)))
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}:{n}: not JSON ({exc.msg} at column {exc.colno})") from None
    return documents
