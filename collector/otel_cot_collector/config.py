"""The collector's YAML config: ``${env:VAR}`` substitution, the parsing helpers every component's config
parser uses (:class:`Section`, durations, sizes, endpoints, ...), and the ``service`` section (pipelines,
telemetry, shutdown) and ``queue``. Each receiver, processor and exporter section is parsed by its
component's factory (:mod:`.registry`).

Every error names the config path it concerns (``exporters.otlp_grpc/jaeger.endpoint: required``), and
unknown keys are errors, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Mapping

import yaml

if TYPE_CHECKING:
    from .registry import Registry

SIGNALS = ("traces", "logs", "metrics")


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


def endpoint(value: Any, path: str) -> tuple[str, int]:
    """``host:port`` (IPv6 hosts in brackets) as ``(host, port)``."""
    s = str(value or "")
    host, sep, port = s.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) < 65536:
        raise ConfigError(f"{path}: expected host:port, got {value!r}")
    return host.strip("[]"), int(port)


class Section:
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
        """The value at ``key`` converted by ``conv`` (which raises ConfigError naming the path), or
        ``default`` (returned as given, so pass it already converted) when the key is absent or null."""
        self.used.add(key)
        if key not in self.data or self.data[key] is None:
            if required:
                raise ConfigError(f"{self.sub(key)}: required")
            return default
        value = self.data[key]
        return conv(value, self.sub(key)) if conv else value

    def section(self, key: str) -> "Section":
        self.used.add(key)
        return Section(self.data.get(key), self.sub(key))

    def done(self) -> None:
        extra = [k for k in self.data if k not in self.used]
        if extra:
            allowed = ", ".join(sorted(self.used)) or "none"
            raise ConfigError(f"{self.sub(str(extra[0]))}: unknown key (allowed here: {allowed})")


def boolean(value: Any, path: str) -> bool:
    if isinstance(value, bool):
        return value
    if str(value).lower() in ("true", "false"):
        return str(value).lower() == "true"
    raise ConfigError(f"{path}: expected true or false, got {value!r}")


def integer(lo: int, hi: int | None = None) -> Callable[[Any, str], int]:
    """A converter to an integer between ``lo`` and ``hi`` (inclusive; no upper bound when None)."""
    def conv(value: Any, path: str) -> int:
        try:
            out = int(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{path}: expected an integer, got {value!r}") from None
        if isinstance(value, bool) or out < lo or (hi is not None and out > hi):
            raise ConfigError(f"{path}: must be between {lo} and {hi if hi is not None else 'inf'}")
        return out
    return conv


def fraction(value: Any, path: str) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{path}: expected a number between 0 and 1, got {value!r}") from None
    if not 0.0 <= out <= 1.0:
        raise ConfigError(f"{path}: must be between 0 and 1")
    return out


def text(value: Any, path: str) -> str:
    return str(value)


def str_list(value: Any, path: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{path}: expected a list of names")
    return list(value)


def str_map(value: Any, path: str) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{path}: expected a mapping of strings")
    return {str(k): str(v) for k, v in value.items()}


def existing_file(value: Any, path: str) -> str:
    s = str(value)
    if not os.path.isfile(s):
        raise ConfigError(f"{path}: file not found: {s}")
    return s


def component_type(name: str) -> str:
    """The type of a component id: ``otlp_grpc/jaeger`` -> ``otlp_grpc``."""
    return name.split("/", 1)[0]


# --- the service section --------------------------------------------------------------------------
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
    """The whole config. ``receivers``, ``processors`` and ``exporters`` map each component id to the
    config its factory parsed; ``registry`` is where those factories came from (the pipeline and the
    service create the components through it); ``links`` maps a component id to the exporters it writes
    to besides its pipeline's (e.g. ``findings_metrics``)."""

    receivers: dict[str, Any]
    processors: dict[str, Any]
    exporters: dict[str, Any]
    pipelines: dict[str, PipelineConfig]
    queue: QueueConfig
    telemetry: TelemetryConfig
    shutdown_timeout: float = 10.0
    registry: "Registry | None" = None
    links: dict[str, list[str]] = field(default_factory=dict)

    def processor(self, signal: str, kind: str) -> Any:
        """The config of the ``kind`` processor in ``signal``'s pipeline, or None when not listed."""
        pipe = self.pipelines.get(signal)
        for name in pipe.processors if pipe else ():
            if component_type(name) == kind:
                return self.processors[name]
        return None

    def components(self) -> "Registry":
        """The registry this config was parsed with (the built-in components when made by hand)."""
        if self.registry is None:
            from .components import default_registry
            self.registry = default_registry()
        return self.registry

    def exporters_in_use(self) -> list[str]:
        """Every exporter a pipeline or a component writes to, sorted."""
        used = {name for pipe in self.pipelines.values() for name in pipe.exporters}
        used.update(name for names in self.links.values() for name in names)
        return sorted(used)


_LOG_LEVELS = ("debug", "info", "warning", "error")


def _telemetry(tel: Section) -> TelemetryConfig:
    default = TelemetryConfig()
    host, port = tel.get("endpoint", (default.host, default.port), endpoint)
    level = str(tel.get("log_level", default.log_level)).lower()
    if level not in _LOG_LEVELS:
        raise ConfigError(f"{tel.sub('log_level')}: expected debug, info, warning or error")
    tel.done()
    return TelemetryConfig(host, port, level)


def _named(s: Section, key: str, parse_one: Callable[[str, Any, str], Any]) -> dict[str, Any]:
    section = s.section(key)
    out = {str(name): parse_one(str(name), value, section.sub(str(name))) for name, value in section.data.items()}
    section.used.update(section.data)
    return out


def parse(data: Any, registry: "Registry | None" = None) -> Config:
    """Validate a config already loaded from YAML (after env substitution); relative paths are from the
    working directory. Component sections are parsed by the factories in ``registry`` (default: the
    components this collector is built with)."""
    if registry is None:
        from .components import default_registry
        registry = default_registry()
    top = Section(data, "")
    receivers = _named(top, "receivers", lambda n, d, p: registry.parse("receiver", n, d, p))
    processors = _named(top, "processors", lambda n, d, p: registry.parse("processor", n, d, p))
    exporters = _named(top, "exporters", lambda n, d, p: registry.parse("exporter", n, d, p))
    q = top.section("queue")
    directory = q.get("directory", required=True, conv=text)
    queue = QueueConfig(directory=os.path.abspath(directory),
                        max_bytes=q.get("max_bytes", QueueConfig.max_bytes, size))
    q.done()
    svc = top.section("service")
    telemetry = _telemetry(svc.section("telemetry"))
    shutdown_timeout = svc.get("shutdown_timeout", Config.shutdown_timeout, duration)
    pipes = svc.section("pipelines")
    pipelines: dict[str, PipelineConfig] = {}
    for signal in list(pipes.data):
        if signal not in SIGNALS:
            raise ConfigError(f"{pipes.sub(str(signal))}: unknown pipeline (known: {', '.join(SIGNALS)})")
        p = pipes.section(signal)
        pipe = PipelineConfig(receivers=p.get("receivers", required=True, conv=str_list),
                              processors=p.get("processors", [], str_list),
                              exporters=p.get("exporters", required=True, conv=str_list))
        p.done()
        _check_pipeline(signal, pipe, receivers, processors, exporters, pipes.sub(signal), registry)
        pipelines[signal] = pipe
    pipes.done()
    svc.done()
    top.done()
    if not pipelines:
        raise ConfigError("service.pipelines: define at least one of traces, logs, metrics")
    cfg = Config(receivers, processors, exporters, pipelines, queue, telemetry, shutdown_timeout, registry)
    for name in dict.fromkeys(n for pipe in pipelines.values() for n in pipe.processors):
        factory = registry.factory("processor", name)
        if factory is not None and factory.resolve is not None:
            cfg.links[name] = list(factory.resolve(processors[name], cfg, f"processors.{name}"))
    return cfg


def _check_pipeline(signal: str, pipe: PipelineConfig, receivers: Mapping[str, Any],
                    processors: Mapping[str, Any], exporters: Mapping[str, Any], path: str,
                    registry: "Registry") -> None:
    for key, names, defined in (("receivers", pipe.receivers, receivers), ("processors", pipe.processors, processors),
                                ("exporters", pipe.exporters, exporters)):
        for name in names:
            if name not in defined:
                raise ConfigError(f"{path}.{key}: {name!r} is not defined under {key}")
    if not pipe.exporters:
        raise ConfigError(f"{path}.exporters: list at least one exporter")
    registry.check_processors(signal, pipe.processors, f"{path}.processors")


def load(path: str, environ: Mapping[str, str] | None = None, registry: "Registry | None" = None) -> Config:
    """Read, substitute and validate ``path``; raises ConfigError naming the file."""
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        data = yaml.safe_load(substitute_env(text, environ))
        return parse(data, registry)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML ({exc})") from None
