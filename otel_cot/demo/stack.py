"""Local programs for ``otel-cot demo`` and the end-to-end tests: Jaeger v2 and the otel-cot collector as
child processes on loopback ports, and Jaeger's query APIs.

Everything binds 127.0.0.1 on free ports; every process is started by PID and stopped by PID (SIGTERM,
then SIGKILL after a deadline); every wait is a bounded poll.
"""

from __future__ import annotations

import glob
import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Callable, Sequence

import yaml

HOST = "127.0.0.1"
JAEGER_VERSION = "v1.76.0"  # the jaegertracing/jaeger module version scripts/install-jaeger.sh builds


def tools_dir() -> str:
    """Where scripts/install-*.sh cache the binaries they build."""
    return os.environ.get("OTEL_COT_TOOLS_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "otel-cot", "bin")


_RECENT_PORTS: dict[int, None] = {}  # the ports free_port handed out last, oldest first
_RECENT_MAX = 1024
_PORTS_LOCK = threading.Lock()


def free_port() -> int:
    """A loopback port nothing listens on, other than the last 1,024 this process was given: the kernel can
    give the same free port to two binds in a row, and callers bind theirs only later (a stack's ports are
    chosen together, so two of them would clash)."""
    with _PORTS_LOCK:
        for _ in range(64):
            with socket.socket() as s:
                s.bind((HOST, 0))
                port = s.getsockname()[1]
            if port not in _RECENT_PORTS:
                break
        _RECENT_PORTS.pop(port, None)
        _RECENT_PORTS[port] = None
        while len(_RECENT_PORTS) > _RECENT_MAX:
            del _RECENT_PORTS[next(iter(_RECENT_PORTS))]
        return port


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.1) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(interval)


def http_get(url: str, timeout: float = 5.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except (urllib.error.URLError, OSError):
        return 0, b""


def find_jaeger() -> str | None:
    """``$OTEL_COT_JAEGER``, the installer's cache, or ``jaeger`` on PATH."""
    explicit = os.environ.get("OTEL_COT_JAEGER")
    if explicit:
        return explicit
    cached = os.path.join(tools_dir(), f"jaeger-{JAEGER_VERSION}")
    if os.access(cached, os.X_OK):
        return cached
    others = sorted(p for p in glob.glob(os.path.join(tools_dir(), "jaeger-*"))
                    if os.access(p, os.X_OK) and not p.endswith(".tmp"))
    if others:
        return others[-1]
    return shutil.which("jaeger")


def collector_command() -> list[str] | None:
    """How to run the otel-cot collector here, or None when it is not installed. Finds the module without
    importing it: the collector is a separate program, reached only over OTLP and its ops endpoints."""
    if importlib.util.find_spec("otel_cot_collector") is not None:
        return [sys.executable, "-m", "otel_cot_collector"]
    exe = shutil.which("otel-cot-collector")
    return [exe] if exe else None


def stop_process(proc: subprocess.Popen, timeout: float) -> int | None:
    """SIGTERM (the graceful drain), then SIGKILL after ``timeout``; the exit code."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    return proc.returncode


class Process:
    """A child process with a log file, stopped by PID."""

    name = "process"

    def __init__(self, workdir: str) -> None:
        self.workdir = workdir
        os.makedirs(workdir, exist_ok=True)
        self.log_path = os.path.join(workdir, f"{self.name}.log")
        self.proc: subprocess.Popen | None = None
        self._log: Any = None

    def _spawn(self, argv: Sequence[str], env: dict[str, str] | None = None) -> None:
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(list(argv), stdout=self._log, stderr=subprocess.STDOUT, env=env,
                                     stdin=subprocess.DEVNULL, cwd=self.workdir)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log(self, tail: int = 4000) -> str:
        try:
            with open(self.log_path, errors="replace") as fh:
                return fh.read()[-tail:]
        except OSError:
            return ""

    def _check_alive(self) -> None:
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{self.log()}")

    def stop(self, timeout: float = 15.0) -> int | None:
        if self.proc is None:
            return None
        code = stop_process(self.proc, timeout)
        if self._log:
            self._log.close()
        self.proc = None
        return code

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def __enter__(self):
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


class Jaeger(Process):
    """Jaeger v2 with in-memory storage, OTLP in, query APIs out, all on loopback."""

    name = "jaeger"

    def __init__(self, workdir: str, binary: str | None = None) -> None:
        super().__init__(workdir)
        self.binary = binary or find_jaeger()
        self.otlp_grpc_port, self.otlp_http_port = free_port(), free_port()
        self.query_port, self.query_grpc_port, self.health_port = free_port(), free_port(), free_port()

    @property
    def otlp_grpc(self) -> str:
        return f"{HOST}:{self.otlp_grpc_port}"

    @property
    def otlp_http(self) -> str:
        return f"http://{HOST}:{self.otlp_http_port}"

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.query_port}"

    def config(self) -> dict[str, Any]:
        return {
            "service": {
                "extensions": ["jaeger_storage", "jaeger_query", "healthcheckv2"],
                "pipelines": {"traces": {"receivers": ["otlp"], "processors": ["batch"],
                                         "exporters": ["jaeger_storage_exporter"]}},
                # no self-tracing (it would dial localhost:4317) and no self-metrics port
                "telemetry": {"metrics": {"level": "none"}, "traces": {"level": "none"},
                              "logs": {"level": "warn"}},
            },
            "extensions": {
                "healthcheckv2": {"use_v2": True, "http": {"endpoint": f"{HOST}:{self.health_port}"}},
                "jaeger_query": {"storage": {"traces": "mem"},
                                 "http": {"endpoint": f"{HOST}:{self.query_port}"},
                                 "grpc": {"endpoint": f"{HOST}:{self.query_grpc_port}"}},
                "jaeger_storage": {"backends": {"mem": {"memory": {"max_traces": 100000}}}},
            },
            "receivers": {"otlp": {"protocols": {
                "grpc": {"endpoint": self.otlp_grpc, "max_recv_msg_size_mib": 64},
                "http": {"endpoint": f"{HOST}:{self.otlp_http_port}"}}}},
            "processors": {"batch": {"timeout": "50ms"}},
            "exporters": {"jaeger_storage_exporter": {"trace_storage": "mem"}},
        }

    def start(self, timeout: float = 60.0) -> "Jaeger":
        if not self.binary:
            raise FileNotFoundError("no Jaeger binary: run scripts/install-jaeger.sh, put `jaeger` on PATH, "
                                    "or set OTEL_COT_JAEGER")
        path = os.path.join(self.workdir, "jaeger.yaml")
        with open(path, "w") as fh:
            yaml.safe_dump(self.config(), fh)
        env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
        # Jaeger traces itself to localhost:4317 unless told not to (and then waits 10 s on exit)
        env.update(OTEL_TRACES_SAMPLER="always_off", OTEL_TRACES_EXPORTER="none")
        self._spawn([self.binary, "--config", path], env)
        wait_for(self._ready, timeout, f"Jaeger's query API (log: {self.log_path})")
        return self

    def _ready(self) -> bool:
        self._check_alive()
        return http_get(self.url + "/api/v3/services", 1.0)[0] == 200

    # --- query API ------------------------------------------------------------------------------
    def trace(self, trace_id: str) -> dict[str, Any] | None:
        """``GET /api/v3/traces/{id}``: the OTLP-JSON trace, or None while it is not stored (404)."""
        status, body = http_get(f"{self.url}/api/v3/traces/{trace_id}")
        if status == 404 or status == 0:
            return None
        if status != 200:
            raise RuntimeError(f"GET /api/v3/traces/{trace_id}: {status} {body[:300]!r}")
        return json.loads(body)["result"]

    def search(self, service: str, tags: dict[str, str], limit: int = 100) -> list[dict[str, Any]]:
        """Tag search (``GET /api/traces?service=&tags=``): Jaeger-JSON traces whose spans match ``tags``."""
        query = urllib.parse.urlencode({"service": service, "tags": json.dumps(tags), "limit": limit,
                                        "lookback": "1h"})
        status, body = http_get(f"{self.url}/api/traces?{query}")
        if status != 200:
            return []
        return json.loads(body).get("data") or []

    def trace_url(self, trace_id: str) -> str:
        return f"{self.url}/trace/{trace_id}"


PLACEHOLDER_UI = "This is not the Jaeger UI you are looking for"


def jaeger_ui(url: str, trace_id: str) -> str:
    """What Jaeger at ``url`` serves for the trace's page: ``"ui"``, ``"placeholder"`` (a build without UI
    assets, such as one made with ``go build``/``go install``, serves a page saying so on every UI path)
    or ``"unreachable"``."""
    status, body = http_get(f"{url}/trace/{trace_id}")
    if status != 200:
        return "unreachable"
    return "placeholder" if PLACEHOLDER_UI.encode() in body else "ui"


def otlp_spans(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The spans of an API v3 (OTLP-JSON) result, each with ``attrs`` (a plain dict) and ``service``."""
    out = []
    for rs in result.get("resourceSpans", []):
        service = next((any_value(a["value"]) for a in rs.get("resource", {}).get("attributes", [])
                        if a["key"] == "service.name"), None)
        for ss in rs.get("scopeSpans", []):
            for span in ss.get("spans", []):
                span = dict(span)
                span["attrs"] = {a["key"]: any_value(a["value"]) for a in span.get("attributes", [])}
                span["service"] = service
                span["eventList"] = [{"name": e.get("name"),
                                      "attrs": {a["key"]: any_value(a["value"]) for a in e.get("attributes", [])}}
                                     for e in span.get("events", [])]
                out.append(span)
    return out


def any_value(v: dict[str, Any]) -> Any:
    """An OTLP-JSON ``AnyValue`` as a Python value (strings, booleans, numbers, arrays; None otherwise)."""
    if "stringValue" in v:
        return v["stringValue"]
    if "boolValue" in v:
        return v["boolValue"]
    if "intValue" in v:
        return int(v["intValue"])
    if "doubleValue" in v:
        return v["doubleValue"]
    if "arrayValue" in v:
        return [any_value(x) for x in v["arrayValue"].get("values", [])]
    return None


def collector_config(workdir: str, *, grpc_port: int, http_port: int | None, ops_port: int, exporter: str,
                     exporter_endpoint: str, wait: str = "500ms",
                     also: Sequence[tuple[str, str]] = ()) -> dict[str, Any]:
    """An otel-cot collector config: OTLP in on loopback, detect, export to ``exporter_endpoint``
    (``otlp_grpc``: host:port; ``otlp_http``: a base URL), and to each ``(exporter, endpoint)`` of
    ``also``."""
    protocols: dict[str, Any] = {"grpc": {"endpoint": f"{HOST}:{grpc_port}"}}
    if http_port:
        protocols["http"] = {"endpoint": f"{HOST}:{http_port}"}
    exporters = {f"{exporter}/backend": _exporter(exporter, exporter_endpoint)}
    for i, (kind, endpoint) in enumerate(also, 1):
        exporters[f"{kind}/also{i}"] = _exporter(kind, endpoint)
    return {
        "receivers": {"otlp": {"protocols": protocols}},
        "processors": {"group_by_trace": {"wait_duration": wait}, "detect": {}},
        "exporters": exporters,
        "queue": {"directory": os.path.join(workdir, "queue"), "max_bytes": "256MiB"},
        "service": {
            "telemetry": {"endpoint": f"{HOST}:{ops_port}", "log_level": "info"},
            "shutdown_timeout": "5s",
            "pipelines": {"traces": {"receivers": ["otlp"], "processors": ["group_by_trace", "detect"],
                                     "exporters": list(exporters)}},
        },
    }


def _exporter(kind: str, endpoint: str) -> dict[str, Any]:
    exp: dict[str, Any] = {"endpoint": endpoint, "timeout": "5s",
                           "retry_on_failure": {"initial_interval": "100ms", "max_interval": "1s"}}
    if kind == "otlp_grpc":
        exp["tls"] = {"insecure": True}
    return exp


class OtelCotCollector(Process):
    """The otel-cot collector (``otel-cot-collector --config FILE``) exporting to a backend."""

    name = "otel-cot-collector"

    def __init__(self, workdir: str, exporter_endpoint: str, exporter: str = "otlp_grpc", *,
                 http: bool = True, wait: str = "500ms", also: Sequence[tuple[str, str]] = ()) -> None:
        super().__init__(workdir)
        self.name = os.path.basename(workdir.rstrip("/")) or self.name
        self.log_path = os.path.join(workdir, "collector.log")
        self.grpc_port = free_port()
        self.http_port = free_port() if http else None
        self.ops_port = free_port()
        self.config = collector_config(workdir, grpc_port=self.grpc_port, http_port=self.http_port,
                                       ops_port=self.ops_port, exporter=exporter,
                                       exporter_endpoint=exporter_endpoint, wait=wait, also=also)

    @property
    def otlp_grpc(self) -> str:
        return f"{HOST}:{self.grpc_port}"

    @property
    def otlp_http(self) -> str:
        return f"http://{HOST}:{self.http_port}"

    @property
    def ops(self) -> str:
        return f"http://{HOST}:{self.ops_port}"

    def start(self, timeout: float = 60.0) -> "OtelCotCollector":
        command = collector_command()
        if command is None:
            raise FileNotFoundError("otel-cot-collector is not installed "
                                    "(from the checkout's root: pip install ./collector)")
        path = os.path.join(self.workdir, "collector.yaml")
        with open(path, "w") as fh:
            yaml.safe_dump(self.config, fh)
        env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
        self._spawn([*command, "--config", path], env)
        wait_for(self._ready, timeout, f"the otel-cot collector's /readyz (log: {self.log_path})")
        return self

    def _ready(self) -> bool:
        self._check_alive()
        return http_get(self.ops + "/readyz", 1.0)[0] == 200

    def restart(self, timeout: float = 60.0) -> "OtelCotCollector":
        """Start again on the same ports with the same queue (after ``kill`` or ``stop``)."""
        self.kill()
        if self._log:
            self._log.close()
        self.proc = None
        return self.start(timeout)

    def metric(self, name: str) -> float:
        _, body = http_get(self.ops + "/metrics")
        return sum(float(line.rsplit(" ", 1)[1]) for line in body.decode().splitlines()
                   if line.startswith(name + "{") or line.startswith(name + " "))
