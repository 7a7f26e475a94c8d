"""The monitor beside a span pipeline: traces judged when they end, off the exporting thread, with late
findings delivered as cot.finding spans; export is never held up by the judge."""

from __future__ import annotations

import time

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otel_cot import semconv as sc
from otel_cot.demo.stack import wait_for
from otel_cot.detectors import Engine
from otel_cot.detectors.base import Finding
from otel_cot.detectors.exporter import DetectingSpanExporter
from otel_cot.monitor import Monitor, MonitorRunner

from ..support.judge_server import Answer, quoting
from .conftest import agent_records, emit_agent_trace, monitor_config



def _rule(trace_id, category="reward_hacking"):
    return Finding("cot.reward_hacking", "1", category, "high", 0.9, "rule", span_id="00", trace_id=trace_id)


def test_a_trace_is_judged_when_its_root_span_arrives(judge):
    judge.answer_with(quoting("special-case n == 3", "reward_hacking"))
    records = agent_records()
    runner = MonitorRunner(Monitor(monitor_config(judge)))
    runner.observe(records[:-1])  # everything but the root
    time.sleep(0.3)
    assert not judge.requests and runner.held_traces == 1
    runner.observe(records[-1:])
    assert runner.drain(10)
    [finding] = runner.take()
    assert finding.span_id == next(r.span_id for r in records if r.name == "reasoning judge-me")
    runner.observe(records[:1])  # a straggler of a judged trace is not judged again
    assert runner.drain(5) and len(judge.requests) == 1
    runner.close()


def test_a_trace_without_its_root_is_judged_when_idle(judge):
    records = agent_records()
    runner = MonitorRunner(Monitor(monitor_config(judge, trace_idle="0.3s")))
    runner.observe(records[:-1])
    wait_for(lambda: len(judge.requests) == 1, 10, "the monitor")
    runner.close()


def test_only_flagged_traces_when_the_trigger_says_so(judge):
    records = agent_records()
    tid = records[0].trace_id
    other = [r.__class__(**{**r.__dict__, "trace_id": "f" * 32}) for r in records]
    monitor = Monitor(monitor_config(judge, triggers={"flagged": True}))
    runner = MonitorRunner(monitor)
    runner.observe(other)
    runner.observe(records, [_rule(tid)])
    assert runner.drain(10)
    assert len(judge.requests) == 1 and monitor.stats.skipped["not_triggered"] == 1
    assert monitor.stats.verdicts["dismissed"] == 1  # the scripted judge found nothing: the rule's finding is dismissed
    runner.close()


def test_a_sampled_fraction_of_the_rest():
    from otel_cot.monitor.monitor import sampled

    ids = [format(i * 7919, "032x") for i in range(4000)]
    share = sum(sampled(t, 0.1) for t in ids) / len(ids)
    assert 0.08 < share < 0.12
    assert all(sampled(t, 0.1) == sampled(t, 0.1) for t in ids[:50])  # the same answer every time


def test_a_full_queue_skips_a_trace_and_counts_it(judge):
    judge.serve(Answer(verdict={"findings": []}, delay=1.0))
    records = agent_records()
    monitor = Monitor(monitor_config(judge, queue_size=1, concurrency=1))
    runner = MonitorRunner(monitor)
    for n in range(4):
        runner.observe([r.__class__(**{**r.__dict__, "trace_id": f"{n:032x}"}) for r in records])
    assert monitor.stats.skipped["queue_full"] >= 2
    runner.close(timeout=5)


def test_export_is_not_held_up_by_a_slow_judge(judge):
    """The bound: with the monitor on, exporting a trace returns before the judge has answered (the judge
    takes 2 s here); the verdict follows as a cot.finding span from the monitor's thread."""
    judge.answer_with(lambda req: Answer(**{**quoting("special-case n == 3", "reward_hacking")(req).__dict__,
                                            "delay": 2.0}))
    inner = InMemorySpanExporter()
    runner = MonitorRunner(Monitor(monitor_config(judge)))
    exporter = DetectingSpanExporter(inner, Engine(timeout_s=None), monitor=runner)
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    started = time.monotonic()
    emit_agent_trace(provider.get_tracer("agent"))
    emitted = time.monotonic() - started
    assert emitted < 1.0, f"exporting the trace took {emitted:.2f}s with a 2 s judge"
    assert len(inner.get_finished_spans()) == 5  # all exported, no verdict yet
    wait_for(lambda: len(inner.get_finished_spans()) == 6, 10, "the monitor")
    span = inner.get_finished_spans()[-1]
    reasoning = next(s for s in inner.get_finished_spans() if s.name == "reasoning judge-me")
    assert span.name == sc.COT_FINDING_SPAN_NAME
    assert span.parent.span_id == reasoning.context.span_id
    assert span.context.trace_id == reasoning.context.trace_id
    assert span.attributes[sc.COT_FLAGGED] is True
    assert span.attributes[sc.COT_FINDING_CATEGORIES] == ("reward_hacking",)
    [event] = span.events
    assert event.attributes[sc.GEN_AI_EVALUATION_NAME] == "cot.monitor"
    assert event.attributes[sc.COT_MONITOR_JUDGE_MODEL] == "judge-1"
    assert span.resource == reasoning.resource
    provider.shutdown()


def test_shutdown_judges_what_is_held_and_exports_its_findings(judge):
    judge.answer_with(quoting("special-case n == 3", "reward_hacking"))
    inner = InMemorySpanExporter()
    exporter = DetectingSpanExporter(inner, Engine(timeout_s=None),
                                     monitor=MonitorRunner(Monitor(monitor_config(judge))))
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("agent")
    with tracer.start_as_current_span("outer"):  # the root has not ended when the process stops
        emit_agent_trace(tracer)
        time.sleep(0.2)
        assert not judge.requests
        provider.shutdown()
    assert [s for s in inner.get_finished_spans() if s.name == sc.COT_FINDING_SPAN_NAME]


def test_a_judge_slower_than_drain_timeout_does_not_hold_up_shutdown(judge):
    judge.serve(Answer(verdict={"findings": []}, delay=3.0))
    monitor = Monitor(monitor_config(judge, drain_timeout="0.5s"))
    runner = MonitorRunner(monitor)
    runner.observe(agent_records())
    started = time.monotonic()
    runner.close()
    assert time.monotonic() - started < 2.0


def test_held_traces_are_bounded(judge):
    records = agent_records()
    runner = MonitorRunner(Monitor(monitor_config(judge, max_traces=2, window={"max_tokens": 500})))
    for n in range(3):  # no roots: the oldest is pushed out, and judged as ended
        runner.observe([r.__class__(**{**r.__dict__, "trace_id": f"{n:032x}"}) for r in records[:-1]])
    assert runner.held_traces == 2
    wait_for(lambda: len(judge.requests) == 1, 10, "the monitor")
    # A trace's views are bounded too (16 × window.max_tokens characters), the task kept.
    first = records[0]
    big = [first.__class__(**{**first.__dict__, "span_id": f"{i:016x}", "trace_id": "e" * 32,
                              "attributes": {sc.COT_REASONING_CONTENT: f"thought {i} " + "x" * 2_000}})
           for i in range(20)]
    runner.observe(big)
    held = runner._traces["e" * 32]
    assert held.chars <= 500 * 16 + 2_100 and len(held.views) < 20
    runner.close(timeout=1)
