"""The components this collector is built with (like the OpenTelemetry Collector's ``components.go``):
one line each. A new component is one module with a ``factory`` (see :mod:`.registry`) plus its line
here; docs/collector.md, "Adding a component"."""

from __future__ import annotations

from .exporters import grpc_exporter, http_exporter
from .processors import detect, findings_metrics, grouping, monitor, sampling
from .receivers import otlp
from .registry import Factory, Registry

FACTORIES: tuple[Factory, ...] = (
    otlp.factory,
    grouping.factory,
    detect.factory,
    monitor.factory,
    sampling.factory,
    findings_metrics.factory,
    grpc_exporter.factory,
    http_exporter.factory,
)


def default_registry() -> Registry:
    """A fresh registry of the built-in components (register more on it without touching the others)."""
    return Registry(FACTORIES)
