"""Misalignment detectors: the engine, the built-in detectors and the in-process exporter.

    from otel_cot.detectors import Engine, SpanRecord
    findings = Engine().process(SpanRecord(trace_id, span_id, name, attributes, start_ns, end_ns))

The exporter (``otel_cot.detectors.exporter.DetectingSpanExporter``) imports the OpenTelemetry SDK and is
not imported here, so the collector and offline tools can use the engine alone.
"""

from .base import CATEGORIES, SEVERITIES, Detector, Finding, SpanView, TraceContext
from .engine import Engine, EngineStats
from .registry import ENTRY_POINT_GROUP, default_detectors, load_config_file, load_detectors
from .rules import RulePackDetector, load_rule_pack
from .views import SpanRecord, views_from_record

__all__ = [
    "CATEGORIES",
    "SEVERITIES",
    "Detector",
    "ENTRY_POINT_GROUP",
    "Engine",
    "EngineStats",
    "Finding",
    "RulePackDetector",
    "SpanRecord",
    "SpanView",
    "TraceContext",
    "default_detectors",
    "load_config_file",
    "load_detectors",
    "load_rule_pack",
    "views_from_record",
]
