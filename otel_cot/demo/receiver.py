"""A loopback OTLP/HTTP trace receiver inside the demo process: the end of the demo's chain when no Jaeger
is there (agent -> OTLP -> otel-cot collector -> OTLP -> here), from which the demo reads the trace back as
the collector exported it.

``POST /v1/traces`` takes protobuf or JSON, gzip or not, as any OTLP/HTTP exporter sends it, and answers
as OTLP requires (an empty ``ExportTraceServiceResponse`` in the request's encoding; 400 for a body it
cannot parse, 413 over the size cap, 404 elsewhere). What it keeps is bounded (``max_spans``); past that it
answers 507 so the sender knows it was not stored.
"""

from __future__ import annotations

import base64
import gzip
import json
import threading
import zlib
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from .loopback import LoopbackServer, QuietHandler

MAX_BODY = 64 * 1024 * 1024
_ID_KEYS = ("traceId", "spanId", "parentSpanId")


class TraceReceiver:
    """Stores every span it receives (OTLP JSON, hex ids) until ``close()``."""

    def __init__(self, max_spans: int = 100_000) -> None:
        self.max_spans = max_spans
        self.requests = 0
        self._lock = threading.Lock()
        self._resource_spans: list[dict[str, Any]] = []
        self._spans = 0
        receiver = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                if self.path.split("?")[0] != "/v1/traces":
                    self.rfile.read(length)
                    return self.answer(404, b"only /v1/traces", "text/plain")
                if length > MAX_BODY:
                    self.close_connection = True
                    return self.answer(413, b"request body too large", "text/plain")
                body = self.rfile.read(length)
                as_json = (self.headers.get("content-type") or "").startswith("application/json")
                try:
                    if (self.headers.get("content-encoding") or "").lower() == "gzip":
                        body = gzip.decompress(body)
                    document = _parse(body, as_json)
                except (OSError, EOFError, zlib.error, ValueError, DecodeError) as exc:
                    return self.answer(400, f"cannot parse the request: {exc}".encode(), "text/plain")
                if not receiver._store(document):
                    return self.answer(507, b"the demo receiver is full", "text/plain")
                if as_json:
                    self.answer(200, b"{}", "application/json")
                else:
                    self.answer(200, ExportTraceServiceResponse().SerializeToString(), "application/x-protobuf")

        self._server = LoopbackServer(Handler, name="otel-cot-demo-receiver")

    @property
    def url(self) -> str:
        """The OTLP/HTTP base URL (exporters append ``/v1/traces``)."""
        return self._server.url

    def _store(self, document: dict[str, Any]) -> bool:
        count = sum(len(ss.get("spans") or ()) for rs in document.get("resourceSpans") or ()
                    for ss in rs.get("scopeSpans") or ())
        with self._lock:
            if self._spans + count > self.max_spans:
                return False
            self._resource_spans.extend(document.get("resourceSpans") or ())
            self._spans += count
            self.requests += 1
        return True

    def trace(self, trace_id: str) -> dict[str, Any] | None:
        """The spans of one trace received so far, as an OTLP-JSON document; None before the first."""
        out = []
        with self._lock:
            for rs in self._resource_spans:
                scopes = []
                for ss in rs.get("scopeSpans") or ():
                    spans = [s for s in ss.get("spans") or () if s.get("traceId") == trace_id]
                    if spans:
                        scopes.append({**ss, "spans": spans})
                if scopes:
                    out.append({**rs, "scopeSpans": scopes})
        return {"resourceSpans": out} if out else None

    def close(self) -> None:
        self._server.close()


def _parse(body: bytes, as_json: bool) -> dict[str, Any]:
    """An OTLP request body as OTLP JSON with hex ids (as OTLP/JSON writes them)."""
    if as_json:
        document = json.loads(body)
        if not isinstance(document, dict):
            raise ValueError("not an ExportTraceServiceRequest")
        return document
    request = ExportTraceServiceRequest()
    request.ParseFromString(body)
    document = json_format.MessageToDict(request)
    for rs in document.get("resourceSpans") or ():
        for ss in rs.get("scopeSpans") or ():
            for span in ss.get("spans") or ():
                for key in _ID_KEYS:
                    if span.get(key):
                        span[key] = _b64_hex(span[key])
                for link in span.get("links") or ():
                    for key in ("traceId", "spanId"):
                        if link.get(key):
                            link[key] = _b64_hex(link[key])
    return document


def _b64_hex(value: str) -> str:
    return base64.b64decode(value).hex()
