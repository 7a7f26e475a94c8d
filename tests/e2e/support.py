"""Helpers for the end-to-end tests: the OpenTelemetry Collector as a child process, the replayed agent
run in a child process (its own tracer provider and real OTLP exporter), and OTLP request building."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from otel_cot.demo.session import load_turns
from otel_cot.demo.stack import HOST, Process, free_port, http_get, otlp_spans, wait_for

SERVICE = "otel-cot-demo"


class OtelCol(Process):
    """The ocb-built OpenTelemetry Collector: OTLP in (gRPC + HTTP), batch, the given exporters."""

    name = "otelcol"

    def __init__(self, workdir: str, binary: str, exporters: dict[str, Any], pipeline_exporters: list[str],
                 extensions: dict[str, Any] | None = None) -> None:
        super().__init__(workdir)
        self.binary = binary
        self.grpc_port, self.http_port, self.metrics_port = free_port(), free_port(), free_port()
        self.config = {
            "receivers": {"otlp": {"protocols": {"grpc": {"endpoint": f"{HOST}:{self.grpc_port}"},
                                                 "http": {"endpoint": f"{HOST}:{self.http_port}"}}}},
            "processors": {"batch": {"timeout": "100ms"}},
            "exporters": exporters,
            "extensions": extensions or {},
            "service": {
                "extensions": list(extensions or {}),
                "telemetry": {"metrics": {"level": "none"}, "logs": {"level": "info"}},
                "pipelines": {"traces": {"receivers": ["otlp"], "processors": ["batch"],
                                         "exporters": pipeline_exporters}},
            },
        }

    @property
    def otlp_http(self) -> str:
        return f"http://{HOST}:{self.http_port}"

    def start(self, timeout: float = 60.0) -> "OtelCol":
        path = os.path.join(self.workdir, "otelcol.yaml")
        with open(path, "w") as fh:
            json.dump(self.config, fh)  # JSON is YAML
        env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
        self._spawn([self.binary, "--config", path], env)
        wait_for(self._ready, timeout, f"the OpenTelemetry Collector (log: {self.log_path})")
        return self

    def _ready(self) -> bool:
        self._check_alive()
        return "Everything is ready" in self.log(1 << 20)


def run_agent(provider_url: str, endpoint: str, *, detect: bool = False, timeout: float = 120) -> str:
    """The scripted agent session (otel_cot.demo.session.run_session: reasoning, a reward-hacking test edit, a
    force-push) in a child process exporting OTLP/HTTP to ``endpoint``; returns its trace id."""
    script = textwrap.dedent(f"""
        import otel_cot
        from otel_cot.demo.session import run_session
        otel_cot.init(service_name={SERVICE!r}, endpoint={endpoint!r}, protocol="http/protobuf",
                      detect={detect!r}, instrument=["anthropic"])
        trace_id = run_session({provider_url!r})
        otel_cot.shutdown()
        print(trace_id)
    """)
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout.strip().splitlines()[-1]


def serve_session(replay: Any) -> None:
    replay.serve(*(t["response"] for t in load_turns()))


def stored_trace(jaeger: Any, trace_id: str, ready: Any, timeout: float = 60) -> list[dict[str, Any]]:
    """Poll ``GET /api/v3/traces/{id}`` (404 until stored) until ``ready(spans)`` holds."""
    def get() -> list[dict[str, Any]] | None:
        result = jaeger.trace(trace_id)
        spans = otlp_spans(result) if result else []
        return spans if spans and ready(spans) else None
    return wait_for(get, timeout, f"trace {trace_id} in Jaeger", 0.15)


def one_tree_with(name: str) -> Any:
    """For ``stored_trace``: the trace is one tree (a single root, every parent stored) with a span named ``name``."""
    def ready(spans: list[dict[str, Any]]) -> bool:
        ids = {s["spanId"] for s in spans}
        return len([s for s in spans if not s.get("parentSpanId")]) == 1 and \
            all(s["parentSpanId"] in ids for s in spans if s.get("parentSpanId")) and \
            any(s["name"] == name for s in spans)
    return ready


def whole_session(spans: list[dict[str, Any]]) -> bool:
    """The session's trace is complete: its root ended (it ends last) and both findings are on it."""
    cats = {c for s in spans for c in s["attrs"].get("cot.finding.categories") or []}
    return any(s["name"] == "invoke_agent demo-coder" for s in spans) and \
        {"reward_hacking", "destructive_action"} <= cats


def findings(spans: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    return [(s["spanId"], e["attrs"]) for s in spans for e in s["eventList"] if e["name"] == "gen_ai.evaluation.result"]


def kv(key: str, value: Any) -> KeyValue:
    if isinstance(value, bool):
        return KeyValue(key=key, value=AnyValue(bool_value=value))
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    return KeyValue(key=key, value=AnyValue(string_value=str(value)))


def request(service: str, spans: list[Span]) -> bytes:
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    rs.resource.attributes.append(kv("service.name", service))
    ss = rs.scope_spans.add()
    ss.scope.name = "e2e"
    ss.spans.extend(spans)
    return req.SerializeToString()


def post(url: str, body: bytes) -> int:
    import urllib.request

    req = urllib.request.Request(url + "/v1/traces", data=body, method="POST",
                                 headers={"Content-Type": "application/x-protobuf"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return resp.status


__all__ = ["OtelCol", "run_agent", "serve_session", "stored_trace", "whole_session", "findings", "kv", "request",
           "post", "http_get", "SERVICE"]
