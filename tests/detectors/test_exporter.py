"""DetectingSpanExporter: annotated copies, events inside the span, never raises."""

from __future__ import annotations

import json

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from earlier_span_plugin import OnTheEarlierSpan

from otel_cot import semconv
from otel_cot.detectors import Engine
from otel_cot.detectors.exporter import DetectingSpanExporter


def _emit(exporter):
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("t")
    with tracer.start_as_current_span("invoke_agent a"):
        with tracer.start_as_current_span("execute_tool Bash") as span:
            span.set_attribute(semconv.GEN_AI_TOOL_NAME, "Bash")
            span.set_attribute(semconv.GEN_AI_TOOL_CALL_ARGUMENTS, json.dumps({"command": "git push -f origin main"}))
            span.set_attribute(semconv.GEN_AI_TOOL_CALL_RESULT, "ok")
        with tracer.start_as_current_span("execute_tool ls") as span:
            span.set_attribute(semconv.GEN_AI_TOOL_NAME, "ls")
            span.set_attribute(semconv.GEN_AI_TOOL_CALL_ARGUMENTS, "{}")
    provider.shutdown()


def test_findings_written_on_annotated_copy():
    inner = InMemorySpanExporter()
    _emit(DetectingSpanExporter(inner, Engine(timeout_s=None)))
    spans = {s.name: s for s in inner.get_finished_spans()}
    flagged = spans["execute_tool Bash"]
    assert flagged.attributes[semconv.COT_FLAGGED] is True
    assert flagged.attributes[semconv.COT_FINDING_CATEGORIES] == ("destructive_action",)
    assert flagged.attributes[semconv.COT_FINDING_MAX_SEVERITY] == "high"
    assert flagged.attributes[semconv.GEN_AI_TOOL_NAME] == "Bash"  # original attributes kept
    events = [e for e in flagged.events if e.name == semconv.GEN_AI_EVALUATION_RESULT_EVENT]
    assert events and all(flagged.start_time <= e.timestamp <= flagged.end_time for e in events)
    assert events[0].attributes[semconv.COT_FINDING_CATEGORY] == "destructive_action"
    assert semconv.GEN_AI_EVALUATION_SCORE_VALUE in events[0].attributes
    assert semconv.COT_FLAGGED not in spans["execute_tool ls"].attributes
    assert flagged.context.span_id and flagged.parent is not None


class _Broken:
    def process(self, record):
        raise RuntimeError("engine bug")

    def close(self):
        pass


def test_never_raises_and_exports_unannotated():
    inner = InMemorySpanExporter()
    _emit(DetectingSpanExporter(inner, _Broken()))  # type: ignore[arg-type]
    names = sorted(s.name for s in inner.get_finished_spans())
    assert names == ["execute_tool Bash", "execute_tool ls", "invoke_agent a"]
    assert all(semconv.COT_FLAGGED not in (s.attributes or {}) for s in inner.get_finished_spans())


def test_delegates_result_and_lifecycle():
    class Inner(SpanExporter):
        def __init__(self):
            self.shut = False

        def export(self, spans):
            return SpanExportResult.FAILURE

        def shutdown(self):
            self.shut = True

        def force_flush(self, timeout_millis=30000):
            return True

    inner = Inner()
    exp = DetectingSpanExporter(inner, Engine(timeout_s=None))
    assert exp.export([]) == SpanExportResult.FAILURE
    assert exp.force_flush() is True
    exp.shutdown()
    assert inner.shut


def test_finding_about_an_already_exported_span_becomes_its_child_span():
    inner = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(
        DetectingSpanExporter(inner, Engine([OnTheEarlierSpan()], timeout_s=None))))
    tracer = provider.get_tracer("t")
    with tracer.start_as_current_span("invoke_agent a"):
        with tracer.start_as_current_span("reasoning") as reasoning:
            reasoning.set_attribute(semconv.COT_REASONING_CONTENT, "I'll hard-code the expected value.")
        with tracer.start_as_current_span("execute_tool Edit") as tool:
            tool.set_attribute(semconv.GEN_AI_TOOL_NAME, "Edit")
            tool.set_attribute(semconv.GEN_AI_TOOL_CALL_ARGUMENTS, json.dumps({"file_path": "a.py"}))
    provider.shutdown()
    spans = inner.get_finished_spans()
    # one span per export batch: the reasoning span left before the tool call was judged
    child = [s for s in spans if s.name == semconv.COT_FINDING_SPAN_NAME]
    assert len(child) == 1, [s.name for s in spans]
    reasoning_span = next(s for s in spans if s.name == "reasoning")
    assert child[0].parent.span_id == reasoning_span.context.span_id
    assert child[0].context.trace_id == reasoning_span.context.trace_id
    assert child[0].attributes[semconv.COT_FLAGGED] is True
    assert child[0].attributes[semconv.COT_FINDING_CATEGORIES] == ("reward_hacking",)
    event = child[0].events[0]
    assert event.name == semconv.GEN_AI_EVALUATION_RESULT_EVENT
    assert event.attributes[semconv.COT_FINDING_RELATED_SPAN_ID] == format(
        next(s for s in spans if s.name == "execute_tool Edit").context.span_id, "016x")
    assert child[0].resource == reasoning_span.resource
    assert semconv.COT_FLAGGED not in (reasoning_span.attributes or {})
