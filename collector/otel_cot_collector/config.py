"""The collector's YAML config: the file read with ``${env:VAR}`` substituted, the ``service`` section
(pipelines, telemetry, shutdown) and ``queue``; each receiver, processor and exporter section is parsed
by its component's factory (:mod:`.registry`), with the helpers of :mod:`.config_parsing`.

Every error names the config path it concerns (``exporters.otlp_grpc/jaeger.endpoint: required``), and
unknown keys are errors, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import yaml

from .components import default_registry
from .config_parsing import (SIGNALS, ConfigError, Section, component_type, duration, endpoint, size, str_list,
                             substitute_env, text)
from .registry import Registry

__all__ = ["Config", "ConfigError", "PipelineConfig", "QueueConfig", "TelemetryConfig", "load", "parse",
           "substitute_env"]


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
    registry: Registry | None = None
    links: dict[str, list[str]] = field(default_factory=dict)

    def processor(self, signal: str, kind: str) -> Any:
        """The config of the ``kind`` processor in ``signal``'s pipeline, or None when not listed."""
        pipe = self.pipelines.get(signal)
        for name in pipe.processors if pipe else ():
            if component_type(name) == kind:
                return self.processors[name]
        return None

    def components(self) -> Registry:
        """The registry this config was parsed with (the built-in components when made by hand)."""
        if self.registry is None:
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


def parse(data: Any, registry: Registry | None = None) -> Config:
    """Validate a config already loaded from YAML (after env substitution); relative paths are from the
    working directory. Component sections are parsed by the factories in ``registry`` (default: the
    components this collector is built with)."""
    if registry is None:
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
                    registry: Registry) -> None:
    for key, names, defined in (("receivers", pipe.receivers, receivers), ("processors", pipe.processors, processors),
                                ("exporters", pipe.exporters, exporters)):
        for name in names:
            if name not in defined:
                raise ConfigError(f"{path}.{key}: {name!r} is not defined under {key}")
    if not pipe.exporters:
        raise ConfigError(f"{path}.exporters: list at least one exporter")
    registry.check_processors(signal, pipe.processors, f"{path}.processors")


def load(path: str, environ: Mapping[str, str] | None = None, registry: Registry | None = None) -> Config:
    """Read, substitute and validate ``path``; raises ConfigError naming the file."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        data = yaml.safe_load(substitute_env(_text(raw), environ))
        return parse(data, registry)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: {_yaml_error(exc)}") from None


def _text(raw: bytes) -> str:
    """The file as text, or a ConfigError saying why it is not a YAML file."""
    if b"\0" in raw[:8192]:
        raise ConfigError("a binary file (it contains NUL bytes), not a YAML config")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start}), "
                          "not a YAML config") from None


def _yaml_error(exc: yaml.YAMLError) -> str:
    """A YAML error in one line: where, and what."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    return f"invalid YAML{where}: {' '.join(str(problem).split())}"
