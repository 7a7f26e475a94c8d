"""Builds the tracer provider and span exporter ``init()`` uses, from arguments and OTEL_* variables."""

from __future__ import annotations

import logging
import os
from typing import Mapping

from opentelemetry.sdk.resources import OTELResourceDetector, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter

from .config import ConfigurationError

logger = logging.getLogger("otel_cot")

_DEFAULT_PROTOCOL = "http/protobuf"


def _env(name: str, signal_name: str, env: Mapping[str, str]) -> str | None:
    return env.get(signal_name) or env.get(name) or None


def build_exporter(endpoint: str | None = None, protocol: str | None = None,
                   headers: Mapping[str, str] | None = None,
                   env: Mapping[str, str] | None = None) -> SpanExporter | None:
    """The exporter ``OTEL_TRACES_EXPORTER`` names (``otlp`` by default), or None for ``none``."""
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
    if protocol == "grpc":
        try:
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter
        except ImportError as exc:
            raise ConfigurationError(
                "OTLP protocol 'grpc' needs the gRPC exporter: pip install opentelemetry-exporter-otlp-proto-grpc"
            ) from exc
        return GrpcExporter(endpoint=endpoint, headers=dict(headers) if headers else None)
    if protocol == "http/protobuf":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter

        if endpoint is not None and not endpoint.rstrip("/").endswith("/v1/traces"):
            endpoint = endpoint.rstrip("/") + "/v1/traces"
        return HttpExporter(endpoint=endpoint, headers=dict(headers) if headers else None)
    raise ConfigurationError(f"OTLP protocol {protocol!r} is not supported (use http/protobuf or grpc)")


def build_provider(service_name: str | None) -> TracerProvider:
    resource = Resource.create().merge(OTELResourceDetector().detect())
    if service_name:
        resource = resource.merge(Resource({"service.name": service_name}))
    return TracerProvider(resource=resource)


def add_exporter(provider: TracerProvider, exporter: SpanExporter) -> None:
    provider.add_span_processor(BatchSpanProcessor(exporter))
