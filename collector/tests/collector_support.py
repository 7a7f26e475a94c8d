"""Test helpers: a loopback OTLP sink (gRPC + HTTP) and a real collector process."""

from __future__ import annotations

import gzip
import http.server
import os
import signal
import ssl
import subprocess
import sys
import threading
import time
from concurrent import futures
from typing import Any

import grpc
import requests
import yaml
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2 as logs_svc
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2 as metrics_svc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2 as trace_svc
from otel_cot.demo.stack import free_port, stop_process, wait_for  # noqa: F401 (free_port, wait_for: for the tests)

HOST = "127.0.0.1"
COLLECTOR_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

_SERVICES = {
    "traces": ("opentelemetry.proto.collector.trace.v1.TraceService", trace_svc.ExportTraceServiceRequest,
               trace_svc.ExportTraceServiceResponse),
    "logs": ("opentelemetry.proto.collector.logs.v1.LogsService", logs_svc.ExportLogsServiceRequest,
             logs_svc.ExportLogsServiceResponse),
    "metrics": ("opentelemetry.proto.collector.metrics.v1.MetricsService", metrics_svc.ExportMetricsServiceRequest,
                metrics_svc.ExportMetricsServiceResponse),
}


class Sink:
    """A loopback OTLP backend recording what it receives. ``mode``: ``ok``, ``unavailable`` (retryable
    refusal), ``slow`` (answers after ``delay`` seconds)."""

    def __init__(self, grpc_port: int | None = None, http_port: int | None = None,
                 tls: tuple[str, str] | None = None) -> None:
        self.tls = tls  # (cert_file, key_file): serve both protocols over TLS
        self.grpc_port = grpc_port or free_port()
        self.http_port = http_port or free_port()
        self.lock = threading.Lock()
        self.spans: dict[str, Any] = {}  # span id hex → last received Span
        self.span_arrivals = 0
        self.logs: list[Any] = []
        self.metrics: list[Any] = []
        self.mode = "ok"
        self.delay = 0.0
        self.max_body = 1 << 30
        self.headers: dict[str, str] = {}  # the last request's headers (HTTP) or metadata (gRPC)  # larger requests are refused as too large (not retryable)
        self.requests = 0
        self._grpc: grpc.Server | None = None
        self._http: http.server.ThreadingHTTPServer | None = None

    # --- recording --------------------------------------------------------------------------------
    def _record(self, signal: str, body: bytes) -> None:
        req = _SERVICES[signal][1].FromString(body)
        with self.lock:
            self.requests += 1
            if signal == "traces":
                for rs in req.resource_spans:
                    for ss in rs.scope_spans:
                        for span in ss.spans:
                            self.spans[span.span_id.hex()] = span
                            self.span_arrivals += 1
            elif signal == "logs":
                for rl in req.resource_logs:
                    for sl in rl.scope_logs:
                        self.logs.extend(sl.log_records)
            else:
                self.metrics.append(req)

    def span_count(self) -> int:
        with self.lock:
            return len(self.spans)

    # --- servers ----------------------------------------------------------------------------------
    def start(self) -> "Sink":
        self._grpc = grpc.server(futures.ThreadPoolExecutor(8))
        for signal, (service, _, resp_cls) in _SERVICES.items():
            def export(request: bytes, context: Any, signal: str = signal, resp_cls: Any = resp_cls) -> Any:
                self.headers = dict(context.invocation_metadata() or ())
                if self.mode == "unavailable":
                    context.abort(grpc.StatusCode.UNAVAILABLE, "sink unavailable")
                if self.mode == "slow":
                    time.sleep(self.delay)
                if len(request) > self.max_body:
                    context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, "request too large")
                self._record(signal, request)
                return resp_cls()
            handler = grpc.unary_unary_rpc_method_handler(export, request_deserializer=None,
                                                          response_serializer=resp_cls.SerializeToString)
            self._grpc.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(service, {"Export": handler}),))
        if self.tls:
            with open(self.tls[0], "rb") as cert, open(self.tls[1], "rb") as key:
                creds = grpc.ssl_server_credentials([(key.read(), cert.read())])
            assert self._grpc.add_secure_port(f"{HOST}:{self.grpc_port}", creds) == self.grpc_port
        else:
            assert self._grpc.add_insecure_port(f"{HOST}:{self.grpc_port}") == self.grpc_port
        self._grpc.start()
        sink = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                signal = self.path.rsplit("/", 1)[-1]
                sink.headers = {k.lower(): v for k, v in self.headers.items()}
                if sink.mode == "unavailable":
                    self._send(503, b"", {"Retry-After": "0"})
                    return
                if sink.mode == "slow":
                    time.sleep(sink.delay)
                if self.headers.get("content-encoding") == "gzip":
                    body = gzip.decompress(body)
                if len(body) > sink.max_body:
                    self._send(413, b"", {})
                    return
                sink._record(signal, body)
                self._send(200, _SERVICES[signal][2]().SerializeToString(), {})

            def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(body)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

        self._http = http.server.ThreadingHTTPServer((HOST, self.http_port), Handler)
        self._http.daemon_threads = True
        if self.tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*self.tls)
            self._http.socket = context.wrap_socket(self._http.socket, server_side=True)
        threading.Thread(target=self._http.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._grpc:
            self._grpc.stop(0).wait(5)
            self._grpc = None
        if self._http:
            self._http.shutdown()
            self._http.server_close()
            self._http = None


def collector_config(queue_dir: str, sink: Sink, *, exporter: str = "otlp_grpc", wait: str = "200ms",
                     token: str | None = None, tls: tuple[str, str] | None = None, max_bytes: str = "64MiB",
                     max_request: int | None = None, keep_fraction: float = 1.0,
                     metrics_interval: str = "300ms", headers: dict[str, str] | None = None) -> dict[str, Any]:
    grpc_port, http_port, ops_port = free_port(), free_port(), free_port()

    def protocol(port: int) -> dict[str, Any]:
        p: dict[str, Any] = {"endpoint": f"{HOST}:{port}"}
        if token:
            p["auth"] = {"bearer_token": token}
        if tls:
            p["tls"] = {"cert_file": tls[0], "key_file": tls[1]}
        if max_request:
            p["max_request_body_size"] = max_request
        return p

    if exporter == "otlp_grpc":
        exp = {"endpoint": f"{HOST}:{sink.grpc_port}", "tls": {"insecure": True}}
    else:
        exp = {"endpoint": f"http://{HOST}:{sink.http_port}"}
    if headers:
        exp["headers"] = headers
    exp.update({"timeout": "2s", "retry_on_failure": {"initial_interval": "50ms", "max_interval": "300ms"}})
    return {
        "receivers": {"otlp": {"protocols": {"grpc": protocol(grpc_port), "http": protocol(http_port)}}},
        "processors": {"group_by_trace": {"wait_duration": wait}, "detect": {},
                       "sampling": {"keep_fraction": keep_fraction},
                       "findings_metrics": {"interval": metrics_interval}},
        "exporters": {f"{exporter}/sink": exp},
        "queue": {"directory": queue_dir, "max_bytes": max_bytes},
        "service": {
            "telemetry": {"endpoint": f"{HOST}:{ops_port}", "log_level": "info"},
            "shutdown_timeout": "5s",
            "pipelines": {
                "traces": {"receivers": ["otlp"], "processors": ["group_by_trace", "detect", "sampling",
                                                                 "findings_metrics"],
                           "exporters": [f"{exporter}/sink"]},
                "logs": {"receivers": ["otlp"], "processors": ["detect"], "exporters": [f"{exporter}/sink"]},
                "metrics": {"receivers": ["otlp"], "exporters": [f"{exporter}/sink"]},
            },
        },
    }


class Collector:
    """The real collector as a child process."""

    def __init__(self, config: dict[str, Any], workdir: str) -> None:
        self.config = config
        self.workdir = workdir
        proto = config["receivers"]["otlp"]["protocols"]
        self.grpc_endpoint = proto["grpc"]["endpoint"]
        self.http_endpoint = proto["http"]["endpoint"]
        self.ops = "http://" + config["service"]["telemetry"]["endpoint"]
        self.proc: subprocess.Popen | None = None
        self.log_path = os.path.join(workdir, "collector.log")

    def start(self, timeout: float = 30.0) -> "Collector":
        path = os.path.join(self.workdir, "collector.yaml")
        with open(path, "w") as fh:
            yaml.safe_dump(self.config, fh)
        env = dict(os.environ)
        env["PYTHONPATH"] = COLLECTOR_DIR + os.pathsep + env.get("PYTHONPATH", "")
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "otel_cot_collector", "--config", path],
                                     stdout=self._log, stderr=subprocess.STDOUT, env=env)
        wait_for(self._ready, timeout, f"collector readiness (log: {self.log_path})", 0.1)
        return self

    def _ready(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(f"collector exited with {self.proc.returncode}:\n{self.log()}")
        try:
            return requests.get(self.ops + "/readyz", timeout=1).status_code == 200
        except requests.RequestException:
            return False

    def log(self) -> str:
        with open(self.log_path, errors="replace") as fh:
            return fh.read()[-5000:]

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def metric(self, name: str) -> float:
        text = requests.get(self.ops + "/metrics", timeout=5).text
        return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                   if line.startswith(name + "{") or line.startswith(name + " "))

    def stop(self, timeout: float = 20.0) -> int:
        if self.proc is None:
            return 0
        code = stop_process(self.proc, timeout)
        self._log.close()
        self.proc = None
        return code  # type: ignore[return-value]

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self._log.close()
        self.proc = None
