"""The config of the two OTLP exporter types (``otlp_grpc`` and ``otlp_http``), which differ only in the
endpoint they take and whether plain ``http://`` means no TLS."""

from __future__ import annotations

import re
import ssl
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from ..config_parsing import ConfigError, Section, boolean, duration, endpoint, existing_file, str_map, text
from ..preflight import one_line
from ..registry import Factory
from .base import SendingConfig, Transport, parse_sending

GRPC, HTTP = "otlp_grpc", "otlp_http"
_SCHEME = re.compile(r"^https?://")


@dataclass
class ExporterConfig(SendingConfig):
    endpoint: str = ""
    insecure: bool = False
    ca_file: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    timeout: float = 10.0
    compression: str = "gzip"


def parser(kind: str) -> Callable[[Section, ExporterConfig], ExporterConfig]:
    """The config parser of exporter type ``kind`` (:data:`GRPC` or :data:`HTTP`)."""

    def parse(s: Section, d: ExporterConfig) -> ExporterConfig:
        url = s.get("endpoint", required=True, conv=text)
        if kind == HTTP and not _SCHEME.match(url):
            raise ConfigError(f"{s.sub('endpoint')}: expected http://host:port or https://host:port, got {url!r}")
        if kind == GRPC:
            endpoint(_SCHEME.sub("", url), s.sub("endpoint"))
        tls = s.section("tls")
        insecure = tls.get("insecure", kind == GRPC and url.startswith("http://"), boolean)
        ca_file = tls.get("ca_file", d.ca_file, existing_file)
        tls.done()
        compression = s.get("compression", d.compression, text)
        if compression not in ("gzip", "none"):
            raise ConfigError(f"{s.sub('compression')}: expected gzip or none, got {compression!r}")
        return ExporterConfig(endpoint=url, insecure=insecure, ca_file=ca_file, compression=compression,
                              headers=s.get("headers", d.headers, str_map),
                              timeout=s.get("timeout", d.timeout, duration), **parse_sending(s, d))

    return parse


def otlp_factory(kind: str, alias: str, transport: Callable[[ExporterConfig], Transport]) -> Factory:
    """The factory of OTLP exporter type ``kind``, sending through ``transport(config)``."""

    def create(cfg: ExporterConfig, ctx: Any) -> Transport:
        return transport(cfg)

    return Factory(kind="exporter", type=kind, aliases=(alias,), config=ExporterConfig, parse=parser(kind),
                   create=create, check=check)


def check(cfg: ExporterConfig, path: str) -> Iterator[str]:
    """The CA bundle loads (the exporter would fail to connect otherwise)."""
    if cfg.ca_file:
        try:
            ssl.create_default_context(cafile=cfg.ca_file)
        except (ssl.SSLError, OSError) as exc:
            yield f"{path}.tls.ca_file: cannot load {cfg.ca_file} ({one_line(exc)})"
