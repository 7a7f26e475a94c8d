"""A loopback OTLP/HTTP receiver that keeps what it is sent and decodes the spans."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from otel_cot.demo.loopback import LoopbackServer, QuietHandler


def _value(v: Any) -> Any:
    kind = v.WhichOneof("value")
    if kind == "array_value":
        return [_value(x) for x in v.array_value.values]
    return getattr(v, kind) if kind else None


class OtlpSink:
    def __init__(self) -> None:
        self.requests: list[tuple[str, str, bytes]] = []
        sink = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                body = self.body()
                if self.headers.get("content-encoding") == "gzip":
                    body = gzip.decompress(body)
                sink.requests.append((self.path, self.headers.get("content-type") or "", body))
                self.answer(200, b"", "application/x-protobuf")

        self._server = LoopbackServer(Handler)

    @property
    def url(self) -> str:
        return self._server.url

    def spans(self) -> list[dict[str, Any]]:
        out = []
        for path, _ctype, body in self.requests:
            if not path.endswith("/v1/traces"):
                continue
            request = ExportTraceServiceRequest()
            request.ParseFromString(body)
            for resource_spans in request.resource_spans:
                resource = {kv.key: _value(kv.value) for kv in resource_spans.resource.attributes}
                for scope_spans in resource_spans.scope_spans:
                    for span in scope_spans.spans:
                        out.append({
                            "name": span.name, "trace_id": span.trace_id.hex(), "span_id": span.span_id.hex(),
                            "parent": span.parent_span_id.hex(), "status": span.status.code,
                            "attributes": {kv.key: _value(kv.value) for kv in span.attributes},
                            "resource": resource, "scope": scope_spans.scope.name,
                            "start": span.start_time_unix_nano, "end": span.end_time_unix_nano,
                            "events": [{"name": e.name, "time": e.time_unix_nano,
                                        "attributes": {kv.key: _value(kv.value) for kv in e.attributes}}
                                       for e in span.events],
                        })
        return out

    def close(self) -> None:
        self._server.close()


def spans_exported_by(script: str, timeout: float = 120) -> list[dict[str, Any]]:
    """Run ``script`` in a fresh Python with the OTLP endpoint set to a new sink (no other ``OTEL_*``
    variable, no anthropic SDK tracing variable) and return the spans it exported."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "ANTHROPIC_OPEN"))}
    sink = OtlpSink()
    env["OTEL_EXPORTER_OTLP_ENDPOINT"] = sink.url
    try:
        proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True,
                              timeout=timeout)
        assert proc.returncode == 0, proc.stderr
        return sink.spans()
    finally:
        sink.close()
