"""The detector engine's :class:`~otel_cot.detectors.SpanRecord` of a protobuf (upb) span.

Read through the protobuf API, a span's attributes cost a key, a value wrapper and a string object each
(most of the ~5 µs a span takes). Where the optional C extension ``_span_wire`` is built
(:mod:`otel_cot.native`), the record is read from the span's wire bytes instead (``SerializeToString``
is fast in upb), giving the same record; a span it does not read exactly (see ``_span_wire.c``) is read
through the API as before. ``OTEL_COT_NATIVE=off`` forces the API path.
"""

from __future__ import annotations

from typing import Any

from otel_cot import native
from otel_cot.detectors import SpanRecord

from . import otlp


def python_span_record(span: Any) -> SpanRecord:
    """The record read through the protobuf API."""
    return SpanRecord.of(span.trace_id.hex(), span.span_id.hex(), span.name, otlp.attributes_of(span.attributes),
                         span.start_time_unix_nano, span.end_time_unix_nano, span.parent_span_id.hex() or None)


_WIRE = otlp.WIRE
_MAKE = native.field_setter(SpanRecord)
if _MAKE is SpanRecord:  # the positional constructor is the slow one: the dict-at-once one then
    _MAKE = SpanRecord.of


def compiled_span_record(span: Any) -> SpanRecord:
    """The record read from the span's wire bytes by ``_span_wire``; through the API when it declines."""
    record = _WIRE.record(span.SerializeToString(), otlp.SHARED_KEYS, otlp.MAX_SHARED_KEYS, _MAKE)
    return python_span_record(span) if record is None else record


def compiled_ref_record(ref: Any) -> SpanRecord:
    """The record of ``ref.span`` (a grouper's ``SpanRef``) read from ``ref.wire``, the bytes it was parsed
    from, when set (the same record: the reader follows the protobuf runtime on any bytes it parsed, see
    ``_span_wire.c``), else from its serialization; through the API when the reader declines."""
    wire = ref.wire
    record = _WIRE.record(ref.span.SerializeToString() if wire is None else wire, otlp.SHARED_KEYS,
                          otlp.MAX_SHARED_KEYS, _MAKE)
    return python_span_record(ref.span) if record is None else record


def python_ref_record(ref: Any) -> SpanRecord:
    return python_span_record(ref.span)


span_record = python_span_record if _WIRE is None else compiled_span_record
ref_record = python_ref_record if _WIRE is None else compiled_ref_record
COMPILED = _WIRE is not None
