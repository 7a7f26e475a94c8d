"""Findings as OTLP metrics: a cumulative counter ``cot.findings`` per category, severity and service,
written to the durable queue every ``interval`` like any other export request."""

from __future__ import annotations

import threading
import time

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.metrics.v1 import metrics_pb2

from otel_cot import semconv

from .. import __version__, otlp

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
