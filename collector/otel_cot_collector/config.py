"""The collector's YAML config: ``${env:VAR}`` substitution, then validation into typed sections.

Every error names the config path it concerns (``exporters.otlp_grpc/jaeger.endpoint: required``), and
unknown keys are errors, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import yaml

SIGNALS = ("traces", "logs", "metrics")
PROCESSOR_TYPES = ("group_by_trace", "detect", "sampling", "findings_metrics")
TRACE_PROCESSOR_ORDER = PROCESSOR_TYPES  # legal relative order in the traces pipeline
EXPORTER_TYPES = ("otlp_grpc", "otlp_http")
_EXPORTER_ALIASES = {"otlp": "otlp_grpc", "otlphttp": "otlp_http"}


class ConfigError(ValueError):
    """An invalid config; the message names the file and the key path."""


# --- scalars --------------------------------------------------------------------------------------
_ENV = re.compile(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(B|KiB|MiB|GiB|KB|MB|GB)?\s*$")
_SIZE_UNITS = {None: 1, "B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "KB": 10**3, "MB": 10**6,
               "GB": 10**9}
_DURATION_UNITS = {None: 1.0, "ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def substitute_env(text: str, environ: Mapping[str, str] | None = None) -> str:
    """Replace ``${env:VAR}`` (and ``${env:VAR:-default}``); an unset variable without default is an error."""
    env = os.environ if environ is None else environ

    def repl(m: re.Match[str]) -> str:
        name, default = m.group(1), m.group(2)
        if name in env:
            return env[name]
        if default is not None:
            return default
        line = text.count("\n", 0, m.start()) + 1
        raise ConfigError(f"line {line}: environment variable {name} is not set (use ${{env:{name}:-default}})")

    return _ENV.sub(repl, text)


def duration(value: Any, path: str) -> float:
    if isinstance(value, bool):
        raise ConfigError(f"{path}: expected a duration like 5s or 200ms, got {value!r}")
    if isinstance(value, (int, float)):
        if value < 0:
            raise ConfigError(f"{path}: must not be negative")
        return float(value)
    m = _DURATION.match(str(value))
    if not m:
        raise ConfigError(f"{path}: expected a duration like 5s or 200ms, got {value!r}")
    return float(m.group(1)) * _DURATION_UNITS[m.group(2)]


def size(value: Any, path: str) -> int:
    if isinstance(value, bool):
        raise ConfigError(f"{path}: expected a size like 64MiB, got {value!r}")
    if isinstance(value, int):
        if value <= 0:
            raise ConfigError(f"{path}: must be positive")
        return value
    m = _SIZE.match(str(value))
    if not m:
        raise ConfigError(f"{path}: expected a size like 64MiB or 1048576, got {value!r}")
    out = int(float(m.group(1)) * _SIZE_UNITS[m.group(2)])
    if out <= 0:
        raise ConfigError(f"{path}: must be positive")
    return out


def _endpoint(value: Any, path: str) -> tuple[str, int]:
    s = str(value or "")
    host, sep, port = s.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) < 65536:
        raise ConfigError(f"{path}: expected host:port, got {value!r}")
    return host.strip("[]"), int(port)


class _Section:
    """Reads one mapping, tracking which keys were used so leftovers can be reported."""

    def __init__(self, data: Any, path: str) -> None:
        if data is None:
            data = {}
        if not isinstance(data, Mapping):
            raise ConfigError(f"{path or '<top level>'}: expected a mapping, got {type(data).__name__}")
        self.data = data
        self.path = path
        self.used: set[str] = set()

    def sub(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def get(self, key: str, default: Any = None, conv: Callable[[Any, str], Any] | None = None,
            required: bool = False) -> Any:
        self.used.add(key)
        if key not in self.data or self.data[key] is None:
            if required:
                raise ConfigError(f"{self.sub(key)}: required")
            return default
        value = self.data[key]
        return conv(value, self.sub(key)) if conv else value

    def section(self, key: str) -> "_Section":
        self.used.add(key)
        return _Section(self.data.get(key), self.sub(key))

    def done(self) -> None:
        extra = [k for k in self.data if k not in self.used]
        if extra:
            allowed = ", ".join(sorted(self.used)) or "none"
            raise ConfigError(f"{self.sub(str(extra[0]))}: unknown key (allowed here: {allowed})")


def _bool(value: Any, path: str) -> bool:
    if isinstance(value, bool):
        return value
    if str(value).lower() in ("true", "false"):
        return str(value).lower() == "true"
    raise ConfigError(f"{path}: expected true or false, got {value!r}")


def _int(lo: int, hi: int | None = None) -> Callable[[Any, str], int]:
    def conv(value: Any, path: str) -> int:
        try:
            out = int(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{path}: expected an integer, got {value!r}") from None
        if isinstance(value, bool) or out < lo or (hi is not None and out > hi):
            raise ConfigError(f"{path}: must be between {lo} and {hi if hi is not None else 'inf'}")
        return out
    return conv


def _fraction(value: Any, path: str) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{path}: expected a number between 0 and 1, got {value!r}") from None
    if not 0.0 <= out <= 1.0:
        raise ConfigError(f"{path}: must be between 0 and 1")
    return out


def _str_list(value: Any, path: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{path}: expected a list of names")
    return list(value)


def _str_map(value: Any, path: str) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{path}: expected a mapping of strings")
    return {str(k): str(v) for k, v in value.items()}


def _file(value: Any, path: str) -> str:
    s = str(value)
    if not os.path.isfile(s):
        raise ConfigError(f"{path}: file not found: {s}")
    return s


# --- sections -------------------------------------------------------------------------------------
@dataclass
class TLSServer:
    cert_file: str
    key_file: str


@dataclass
class ProtocolConfig:
    host: str
    port: int
    max_request_bytes: int
    bearer_token: str | None = None
    tls: TLSServer | None = None


@dataclass
class ReceiverConfig:
    name: str
    grpc: ProtocolConfig | None
    http: ProtocolConfig | None


@dataclass
class RetryConfig:
    initial_interval: float = 1.0
    max_interval: float = 30.0
    multiplier: float = 1.5
    max_elapsed: float = 0.0  # 0: retry until the backend accepts (the queue holds the data meanwhile)


@dataclass
class ExporterConfig:
    name: str
    type: str
    endpoint: str
    insecure: bool = False
    ca_file: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    timeout: float = 10.0
    compression: str = "gzip"
    max_batch_bytes: int = 2 << 20
    retry: RetryConfig = field(default_factory=RetryConfig)


@dataclass
class GroupByTraceConfig:
    wait: float = 2.0
    max_traces: int = 10_000
    max_spans: int = 200_000


@dataclass
class DetectConfig:
    config_file: str | None = None
    timeout: float | None = 2.0
    max_traces: int = 10_000
    log_spans: str = "none"  # coding-agent log records as spans: none | flagged | all


@dataclass
class SamplingConfig:
    keep_fraction: float = 1.0
    remember_traces: int = 100_000


@dataclass
class FindingsMetricsConfig:
    interval: float = 10.0
    exporters: list[str] | None = None


@dataclass
class PipelineConfig:
    receivers: list[str]
    processors: list[str]
    exporters: list[str]


@dataclass
class QueueConfig:
    directory: str
    max_bytes: int = 256 << 20


@dataclass
class TelemetryConfig:
    host: str = "127.0.0.1"
    port: int = 8888
    log_level: str = "info"


@dataclass
class Config:
    receivers: dict[str, ReceiverConfig]
    processors: dict[str, Any]
    exporters: dict[str, ExporterConfig]
    pipelines: dict[str, PipelineConfig]
    queue: QueueConfig
    telemetry: TelemetryConfig
    shutdown_timeout: float = 10.0

    def processor(self, signal: str, kind: str) -> Any:
        """The config of the ``kind`` processor in ``signal``'s pipeline, or None when not listed."""
        pipe = self.pipelines.get(signal)
        for name in pipe.processors if pipe else ():
            if name.split("/", 1)[0] == kind:
                return self.processors[name]
        return None


def _protocol(s: _Section, default_port: int, default_max: int) -> ProtocolConfig:
    host, port = s.get("endpoint", f"127.0.0.1:{default_port}", _endpoint)
    max_bytes = s.get("max_request_body_size", default_max, size)
    if "max_recv_msg_size_mib" in s.data:
        max_bytes = s.get("max_recv_msg_size_mib", None, _int(1, 4096)) << 20
    token = None
    auth = s.section("auth")
    token = auth.get("bearer_token", None, lambda v, p: str(v))
    if token == "":
        raise ConfigError(f"{auth.sub('bearer_token')}: must not be empty (remove auth to disable it)")
    auth.done()
    tls = None
    if s.data.get("tls") is not None:
        t = s.section("tls")
        tls = TLSServer(cert_file=t.get("cert_file", required=True, conv=_file),
                        key_file=t.get("key_file", required=True, conv=_file))
        t.done()
    s.done()
    return ProtocolConfig(host, port, max_bytes, token, tls)


def _receiver(name: str, data: Any, path: str) -> ReceiverConfig:
    if name.split("/", 1)[0] != "otlp":
        raise ConfigError(f"{path}: unknown receiver type {name.split('/', 1)[0]!r} (known: otlp)")
    s = _Section(data, path)
    protocols = s.section("protocols")
    grpc = http = None
    if "grpc" in protocols.data:
        grpc = _protocol(protocols.section("grpc"), 4317, 64 << 20)
    if "http" in protocols.data:
        http = _protocol(protocols.section("http"), 4318, 64 << 20)
    protocols.done()
    s.done()
    if grpc is None and http is None:
        raise ConfigError(f"{path}.protocols: enable at least one of grpc, http")
    return ReceiverConfig(name, grpc, http)


def _exporter(name: str, data: Any, path: str) -> ExporterConfig:
    kind = name.split("/", 1)[0]
    kind = _EXPORTER_ALIASES.get(kind, kind)
    if kind not in EXPORTER_TYPES:
        raise ConfigError(f"{path}: unknown exporter type {kind!r} (known: {', '.join(EXPORTER_TYPES)})")
    s = _Section(data, path)
    endpoint = s.get("endpoint", required=True, conv=lambda v, p: str(v))
    if kind == "otlp_http" and not re.match(r"^https?://", endpoint):
        raise ConfigError(f"{s.sub('endpoint')}: expected http://host:port or https://host:port, got {endpoint!r}")
    if kind == "otlp_grpc":
        _endpoint(re.sub(r"^https?://", "", endpoint), s.sub("endpoint"))
    tls = s.section("tls")
    insecure = tls.get("insecure", kind == "otlp_grpc" and endpoint.startswith("http://"), _bool)
    ca_file = tls.get("ca_file", None, _file)
    tls.done()
    compression = s.get("compression", "gzip", lambda v, p: str(v))
    if compression not in ("gzip", "none"):
        raise ConfigError(f"{s.sub('compression')}: expected gzip or none, got {compression!r}")
    r = s.section("retry_on_failure")
    retry = RetryConfig(
        initial_interval=r.get("initial_interval", 1.0, duration),
        max_interval=r.get("max_interval", 30.0, duration),
        multiplier=r.get("multiplier", 1.5, lambda v, p: max(1.0, float(v))),
        max_elapsed=r.get("max_elapsed_time", 0.0, duration),
    )
    r.done()
    out = ExporterConfig(
        name=name, type=kind, endpoint=endpoint, insecure=insecure, ca_file=ca_file,
        headers=s.get("headers", {}, _str_map), timeout=s.get("timeout", 10.0, duration),
        compression=compression, max_batch_bytes=s.get("max_batch_size", 2 << 20, size), retry=retry,
    )
    s.done()
    return out


def _log_spans(value: Any, path: str) -> str:
    if value is False:  # YAML reads a bare `none`/`off` as a string but `false` as a bool
        return "none"
    if value not in ("none", "flagged", "all"):
        raise ConfigError(f"{path}: must be none, flagged or all (got {value!r})")
    return str(value)


def _processor(name: str, data: Any, path: str) -> Any:
    kind = name.split("/", 1)[0]
    s = _Section(data, path)
    if kind == "group_by_trace":
        out: Any = GroupByTraceConfig(wait=s.get("wait_duration", 2.0, duration),
                                      max_traces=s.get("num_traces", 10_000, _int(1)),
                                      max_spans=s.get("max_spans", 200_000, _int(1)))
    elif kind == "detect":
        timeout = s.get("timeout", 2.0, duration)
        out = DetectConfig(config_file=s.get("config_file", None, _file),
                           timeout=timeout or None, max_traces=s.get("max_traces", 10_000, _int(1)),
                           log_spans=s.get("log_spans", "none", _log_spans))
    elif kind == "sampling":
        out = SamplingConfig(keep_fraction=s.get("keep_fraction", 1.0, _fraction),
                             remember_traces=s.get("remember_traces", 100_000, _int(1)))
    elif kind == "findings_metrics":
        out = FindingsMetricsConfig(interval=s.get("interval", 10.0, duration),
                                    exporters=s.get("exporters", None, _str_list))
        if out.interval <= 0:
            raise ConfigError(f"{s.sub('interval')}: must be positive")
    else:
        raise ConfigError(f"{path}: unknown processor type {kind!r} (known: {', '.join(PROCESSOR_TYPES)})")
    s.done()
    return out


def _named(s: _Section, key: str, build: Callable[[str, Any, str], Any]) -> dict[str, Any]:
    section = s.section(key)
    out = {str(name): build(str(name), value, section.sub(str(name))) for name, value in section.data.items()}
    section.used.update(section.data)
    return out


def parse(data: Any) -> Config:
    """Validate a config already loaded from YAML (after env substitution); relative paths are from the
    working directory."""
    top = _Section(data, "")
    receivers = _named(top, "receivers", _receiver)
    processors = _named(top, "processors", _processor)
    exporters = _named(top, "exporters", _exporter)
    q = top.section("queue")
    directory = q.get("directory", required=True, conv=lambda v, p: str(v))
    queue = QueueConfig(directory=os.path.abspath(directory),
                        max_bytes=q.get("max_bytes", 256 << 20, size))
    q.done()
    svc = top.section("service")
    tel = svc.section("telemetry")
    host, port = tel.get("endpoint", "127.0.0.1:8888", _endpoint)
    level = str(tel.get("log_level", "info")).lower()
    if level not in ("debug", "info", "warning", "error"):
        raise ConfigError(f"{tel.sub('log_level')}: expected debug, info, warning or error")
    tel.done()
    shutdown_timeout = svc.get("shutdown_timeout", 10.0, duration)
    pipes = svc.section("pipelines")
    pipelines: dict[str, PipelineConfig] = {}
    for signal in list(pipes.data):
        if signal not in SIGNALS:
            raise ConfigError(f"{pipes.sub(str(signal))}: unknown pipeline (known: {', '.join(SIGNALS)})")
        p = pipes.section(signal)
        pipe = PipelineConfig(receivers=p.get("receivers", required=True, conv=_str_list),
                              processors=p.get("processors", [], _str_list),
                              exporters=p.get("exporters", required=True, conv=_str_list))
        p.done()
        _check_pipeline(signal, pipe, receivers, processors, exporters, pipes.sub(signal))
        pipelines[signal] = pipe
    pipes.done()
    svc.done()
    top.done()
    if not pipelines:
        raise ConfigError("service.pipelines: define at least one of traces, logs, metrics")
    cfg = Config(receivers, processors, exporters, pipelines, queue,
                 TelemetryConfig(host, port, level), shutdown_timeout)
    fm = cfg.processor("traces", "findings_metrics")
    if fm is not None:
        targets = fm.exporters if fm.exporters is not None else (
            pipelines["metrics"].exporters if "metrics" in pipelines else None)
        if not targets:
            raise ConfigError("processors.findings_metrics: set exporters, or define a metrics pipeline")
        for name in targets:
            if name not in exporters:
                raise ConfigError(f"processors.findings_metrics.exporters: {name!r} is not defined under exporters")
        fm.exporters = list(targets)
    return cfg


def _check_pipeline(signal: str, pipe: PipelineConfig, receivers: Mapping[str, Any],
                    processors: Mapping[str, Any], exporters: Mapping[str, Any], path: str) -> None:
    for key, names, defined in (("receivers", pipe.receivers, receivers), ("processors", pipe.processors, processors),
                                ("exporters", pipe.exporters, exporters)):
        for name in names:
            if name not in defined:
                raise ConfigError(f"{path}.{key}: {name!r} is not defined under {key}")
    if not pipe.exporters:
        raise ConfigError(f"{path}.exporters: list at least one exporter")
    kinds = [n.split("/", 1)[0] for n in pipe.processors]
    if len(set(kinds)) != len(kinds):
        raise ConfigError(f"{path}.processors: each processor type may appear once")
    allowed = {"traces": PROCESSOR_TYPES, "logs": ("detect",), "metrics": ()}[signal]
    for kind in kinds:
        if kind not in allowed:
            raise ConfigError(f"{path}.processors: {kind} does not apply to {signal}"
                              f" (allowed: {', '.join(allowed) or 'none'})")
    order = [TRACE_PROCESSOR_ORDER.index(k) for k in kinds]
    if order != sorted(order):
        raise ConfigError(f"{path}.processors: order must follow {' → '.join(TRACE_PROCESSOR_ORDER)}")
    if ("sampling" in kinds or "findings_metrics" in kinds) and "detect" not in kinds:
        raise ConfigError(f"{path}.processors: sampling and findings_metrics need detect before them")


def load(path: str, environ: Mapping[str, str] | None = None) -> Config:
    """Read, substitute and validate ``path``; raises ConfigError naming the file."""
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        data = yaml.safe_load(substitute_env(text, environ))
        return parse(data)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML ({exc})") from None
