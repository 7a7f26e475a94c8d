"""Helpers for the in-process tests of the pipeline pieces: OTLP requests, a config, a pipeline on a Store
in a temporary directory driven step by step with a hand-set clock."""

from __future__ import annotations

import json
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from otel_cot import semconv
from otel_cot_collector import otlp
from otel_cot_collector.config import parse
from otel_cot_collector.pipeline import Pipeline
from otel_cot_collector.registry import Registry
from otel_cot_collector.store import Store
from otel_cot_collector.telemetry import Metrics

EXPORTER = "otlp_grpc/sink"
DESTRUCTIVE = {semconv.GEN_AI_TOOL_NAME: "Bash",
               semconv.GEN_AI_TOOL_CALL_ARGUMENTS: json.dumps({"command": "git push -f origin main"})}
HARMLESS = {semconv.GEN_AI_TOOL_NAME: "ls", semconv.GEN_AI_TOOL_CALL_ARGUMENTS: "{}"}


def trace_id(n: int) -> bytes:
    return n.to_bytes(16, "big")


def span_id(n: int) -> bytes:
    return n.to_bytes(8, "big")


def trace_request(*spans: tuple[int, int, dict[str, Any]], service: str = "agent") -> bytes:
    """One request; each span is ``(trace number, span number, attributes)``, ending in that order."""
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    rs.resource.attributes.extend(otlp.key_values({"service.name": service}))
    scope = rs.scope_spans.add()
    for trace, span, attributes in spans:
        out = scope.spans.add(trace_id=trace_id(trace), span_id=span_id(span), name=f"execute_tool s{span}",
                              start_time_unix_nano=1_000 + span, end_time_unix_nano=2_000 + span)
        out.attributes.extend(otlp.key_values(attributes))
    return req.SerializeToString()


def log_request(attributes: dict[str, Any]) -> bytes:
    req = ExportLogsServiceRequest()
    rl = req.resource_logs.add()
    rl.resource.attributes.extend(otlp.key_values({"service.name": "agent", "session.id": "s1"}))
    record = rl.scope_logs.add().log_records.add(time_unix_nano=5_000)
    record.attributes.extend(otlp.key_values(attributes))
    return req.SerializeToString()


def config(queue_dir: str, traces: list[str] | None = None, processors: dict[str, Any] | None = None,
           logs: list[str] | None = None) -> dict[str, Any]:
    """A config with one exporter for every signal; ``traces`` / ``logs``: their processor lists."""
    return {
        "receivers": {"otlp": {"protocols": {"grpc": {}}}},
        "processors": processors if processors is not None else {
            "group_by_trace": {"wait_duration": "1s"}, "detect": {"timeout": 0}, "sampling": {},
            "findings_metrics": {"interval": "1h"}},
        "exporters": {EXPORTER: {"endpoint": "127.0.0.1:1", "tls": {"insecure": True}}},
        "queue": {"directory": queue_dir},
        "service": {"pipelines": {
            "traces": {"receivers": ["otlp"], "exporters": [EXPORTER],
                       "processors": traces if traces is not None else ["group_by_trace", "detect", "sampling",
                                                                        "findings_metrics"]},
            "logs": {"receivers": ["otlp"], "exporters": [EXPORTER], "processors": logs if logs is not None else []},
            "metrics": {"receivers": ["otlp"], "exporters": [EXPORTER]},
        }},
    }


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Harness:
    """A pipeline over a real Store in ``directory``, not started: the test calls ``step``."""

    def __init__(self, directory: str, data: dict[str, Any], registry: Registry | None = None) -> None:
        self.cfg = parse(data, registry)
        self.store = Store(directory, self.cfg.queue.max_bytes)
        self.metrics = Metrics()
        self.pipeline = Pipeline(self.cfg, self.store, self.metrics)
        self.clock = Clock()
        self.pipeline.grouper.clock = self.clock

    def add(self, signal: otlp.Signal, data: bytes) -> int:
        return self.store.append(signal.code, data).result(timeout=10)

    def outbox(self, signal: otlp.Signal, exporter: str = EXPORTER) -> list[bytes]:
        out, after = [], 0
        while True:  # read_outbox returns a run of one signal at a time
            rows = self.store.read_outbox(exporter, after, 10_000, 1 << 40)
            if not rows:
                return out
            out.extend(data for _, code, data in rows if code == signal.code)
            after = rows[-1][0]

    def spans(self) -> dict[bytes, Any]:
        """Every span in the traces outbox, by span id."""
        out = {}
        for data in self.outbox(otlp.TRACES):
            for rs in ExportTraceServiceRequest.FromString(data).resource_spans:
                for ss in rs.scope_spans:
                    for span in ss.spans:
                        out[span.span_id] = span
        return out

    def close(self) -> None:
        self.store.close()
