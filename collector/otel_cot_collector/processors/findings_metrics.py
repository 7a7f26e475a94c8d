"""The ``findings_metrics`` processor: findings as OTLP metrics, a cumulative counter ``cot.findings`` per
category, severity and service (of every finding a processor publishes, on spans and on log records),
written to the durable queue every ``interval`` like any other export request."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, Sequence

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.metrics.v1 import metrics_pb2

from otel_cot import semconv
from otel_cot.detectors import Finding

from .. import __version__, otlp
from ..config_parsing import ConfigError, Section, duration, str_list
from ..registry import Emit, Factory, ProcessorContext

METRIC_NAME = semconv.COT_FINDINGS_METRIC


class FindingsCounter:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, str, str], int] = {}
        self._start_ns = time.time_ns()
        self._dirty = False

    def add(self, category: str, severity: str, service: str, n: int = 1) -> None:
        with self._lock:
            key = (category, severity, service)
            self._counts[key] = self._counts.get(key, 0) + n
            self._dirty = True

    def collect(self) -> bytes | None:
        """An ExportMetricsServiceRequest with every series, or None when nothing changed since last time."""
        with self._lock:
            if not self._dirty:
                return None
            self._dirty = False
            counts = dict(self._counts)
        now = time.time_ns()
        req = ExportMetricsServiceRequest()
        by_service: dict[str, list[tuple[str, str, int]]] = {}
        for (category, severity, service), n in sorted(counts.items()):
            by_service.setdefault(service, []).append((category, severity, n))
        for service, series in by_service.items():
            rm = req.resource_metrics.add()
            rm.resource.attributes.extend(otlp.key_values({"service.name": service}))
            sm = rm.scope_metrics.add()
            sm.scope.name, sm.scope.version = "otel_cot_collector", __version__
            metric = sm.metrics.add(name=METRIC_NAME, unit="{finding}",
                                    description="Findings written by the otel-cot detectors")
            metric.sum.is_monotonic = True
            metric.sum.aggregation_temporality = metrics_pb2.AGGREGATION_TEMPORALITY_CUMULATIVE
            for category, severity, n in series:
                dp = metric.sum.data_points.add(start_time_unix_nano=self._start_ns, time_unix_nano=now, as_int=n)
                dp.attributes.extend(otlp.key_values({semconv.COT_FINDING_CATEGORY: category,
                                                      semconv.COT_FINDING_SEVERITY: severity,
                                                      "service.name": service}))
        return req.SerializeToString()


class FindingsMetrics:
    """Counts the published findings; emits the counter every ``interval`` (and at shutdown)."""

    def __init__(self, interval: float, exporters: Sequence[str], emit: Emit) -> None:
        self.counter = FindingsCounter()
        self.interval = interval
        self.exporters = list(exporters)
        self.emit = emit
        self._next = time.monotonic() + interval

    def count(self, found: Sequence[tuple[Finding, str]]) -> None:
        for finding, service in found:
            self.counter.add(finding.category, finding.severity, service)

    def tick(self, force: bool) -> None:
        if not force and time.monotonic() < self._next:
            return
        self._next = time.monotonic() + self.interval
        data = self.counter.collect()
        if data:
            self.emit("metrics", data, self.exporters)


@dataclass
class FindingsMetricsConfig:
    interval: float = 10.0
    exporters: list[str] | None = None  # None: the metrics pipeline's


def parse(s: Section, d: FindingsMetricsConfig) -> FindingsMetricsConfig:
    out = FindingsMetricsConfig(interval=s.get("interval", d.interval, duration),
                                exporters=s.get("exporters", d.exporters, str_list))
    if out.interval <= 0:
        raise ConfigError(f"{s.sub('interval')}: must be positive")
    return out


def resolve(cfg: FindingsMetricsConfig, whole: Any, path: str) -> list[str]:
    targets = cfg.exporters if cfg.exporters is not None else (
        whole.pipelines["metrics"].exporters if "metrics" in whole.pipelines else None)
    if not targets:
        raise ConfigError(f"{path}: set exporters, or define a metrics pipeline")
    for name in targets:
        if name not in whole.exporters:
            raise ConfigError(f"{path}.exporters: {name!r} is not defined under exporters")
    cfg.exporters = list(targets)
    return cfg.exporters


def create(cfg: FindingsMetricsConfig, ctx: ProcessorContext) -> FindingsMetrics:
    processor = FindingsMetrics(cfg.interval, cfg.exporters or [], ctx.emit)
    ctx.findings.subscribe(processor.count)
    return processor


factory = Factory(kind="processor", type="findings_metrics", config=FindingsMetricsConfig, parse=parse,
                  create=create, signals=("traces",), needs=("detect",), resolve=resolve)
