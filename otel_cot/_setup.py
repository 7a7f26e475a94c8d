"""Builds the tracer provider and span exporter ``init()`` uses, from arguments and OTEL_* variables."""

from __future__ import annotations

import importlib.util
import logging
import os
from typing import Mapping

from opentelemetry.sdk.resources import OTELResourceDetector, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SpanExporter

from ._export import BoundedSpanProcessor, LazySpanExporter
from .config import ConfigurationError

logger = logging.getLogger("otel_cot")

_DEFAULT_PROTOCOL = "http/protobuf"


def _env(name: str, signal_name: str, env: Mapping[str, str]) -> str | None:
    return env.get(signal_name) or env.get(name) or None


def build_exporter(endpoint: str | None = None, protocol: str | None = None,
                   headers: Mapping[str, str] | None = None,
                   env: Mapping[str, str] | None = None) -> SpanExporter | None:
    """The exporter ``OTEL_TRACES_EXPORTER`` names (``otlp`` by default), or None for ``none``.

    The OTLP/HTTP exporter is checked here (a bad protocol raises ``ConfigurationError``) and created on its first
    export (``LazySpanExporter``): importing it costs more than the rest of ``init()``. The gRPC one is created
    here."""
    env = os.environ if env is None else env
    kind = (env.get("OTEL_TRACES_EXPORTER") or "otlp").split(",")[0].strip().lower()
    if kind == "none":
        return None
    if kind == "console":
        return ConsoleSpanExporter()
    if kind != "otlp":
        raise ConfigurationError(f"OTEL_TRACES_EXPORTER={kind!r} is not supported by otel-cot (use otlp, console or none)")
    protocol = (protocol or _env("OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", env)
                or _DEFAULT_PROTOCOL).strip().lower()
    header_map = dict(headers) if headers else None
    if protocol == "grpc":
        if not _importable("opentelemetry.exporter.otlp.proto.grpc"):
            raise ConfigurationError("OTLP protocol 'grpc' needs the gRPC exporter: pip install opentelemetry-exporter-otlp-proto-grpc")

        def grpc() -> SpanExporter:
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

            return OTLPSpanExporter(endpoint=endpoint, headers=header_map)

        target = endpoint or _env("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", env)
        return LazySpanExporter(grpc, target or "http://localhost:4317").build_now()
    if protocol == "http/protobuf":
        if endpoint is not None and not endpoint.rstrip("/").endswith("/v1/traces"):
            endpoint = endpoint.rstrip("/") + "/v1/traces"

        def http() -> SpanExporter:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            return OTLPSpanExporter(endpoint=endpoint, headers=header_map)

        return LazySpanExporter(http, endpoint or _http_endpoint(env))
    raise ConfigurationError(f"OTLP protocol {protocol!r} is not supported (use http/protobuf or grpc)")


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ImportError:  # a parent package is missing
        return False


def _http_endpoint(env: Mapping[str, str]) -> str:
    """Where the OTLP/HTTP exporter sends spans without an ``endpoint`` argument (its own rule, for messages)."""
    signal = env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    if signal:
        return signal
    return (env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or "http://localhost:4318").rstrip("/") + "/v1/traces"


def build_provider(service_name: str | None) -> TracerProvider:
    resource = Resource.create().merge(OTELResourceDetector().detect())
    if service_name:
        resource = resource.merge(Resource({"service.name": service_name}))
    return TracerProvider(resource=resource)


def add_exporter(provider: TracerProvider, exporter: SpanExporter, shutdown_timeout: float,
                 sender: SpanExporter | None = None) -> BoundedSpanProcessor:
    """A batch processor for ``exporter`` whose flush and shutdown end within ``shutdown_timeout`` seconds
    (``sender``: the exporter ``exporter`` wraps, which talks to the backend)."""
    processor = BoundedSpanProcessor(exporter, shutdown_timeout, sender)
    provider.add_span_processor(processor)
    return processor

