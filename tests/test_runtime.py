"""otel-cot's process-wide state lives in one object, ``otel_cot.runtime.runtime``: filled by ``init()``, emptied by
``shutdown()``, back to its state at import with ``reset()``."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import SpanContext, TraceFlags

import otel_cot
from otel_cot import config
from otel_cot.guard import active, configure
from otel_cot.instrumentation import tools
from otel_cot.runtime import runtime

BLOCK = {"categories": {"destructive_action": "block"}}


def _model_span(trace_id: int = 0x1234) -> SpanContext:
    return SpanContext(trace_id, 0x99, is_remote=False, trace_flags=TraceFlags(1))


def test_init_fills_the_runtime_and_shutdown_empties_it():
    provider = TracerProvider()
    assert otel_cot.init(tracer_provider=provider, instrument=[], capture_content=False, guard=BLOCK) is provider
    assert runtime.started and runtime.provider is provider and not runtime.owned
    assert config.current() is runtime.settings and runtime.settings.capture_content is False
    assert active() is runtime.guard is not None
    otel_cot.shutdown()
    assert not runtime.started and runtime.provider is None and runtime.guard is None
    assert runtime.settings is None and config.current().capture_content is True  # the environment's again


def test_reset_forgets_everything():
    reporter = lambda where, exc: None  # noqa: E731
    otel_cot.set_internal_error_reporter(reporter)
    otel_cot.init(tracer_provider=TracerProvider(), instrument=[], guard=BLOCK)
    runtime.pending.register(_model_span(), True, [("call_1", "bash")])
    assert runtime.pending.last_rootless_trace() == 0x1234

    runtime.reset()
    assert not runtime.started and runtime.provider is None and runtime.instrumented == []
    assert runtime.guard is None and runtime.settings is None and runtime.internal_error_reporter is None
    assert runtime.pending.last_rootless_trace() is None and runtime.pending.claim("bash") is None


def test_shutdown_keeps_the_reporter_and_the_pending_calls():
    """As before one object held them: shutdown() undoes what init() did, nothing else."""
    reporter = lambda where, exc: None  # noqa: E731
    otel_cot.set_internal_error_reporter(reporter)
    otel_cot.init(tracer_provider=TracerProvider(), instrument=[])
    runtime.pending.register(_model_span(), True, [("call_1", "bash")])
    otel_cot.shutdown()
    assert runtime.internal_error_reporter is reporter
    assert runtime.pending.claim("bash").call_id == "call_1"


@pytest.mark.expects_internal_errors
def test_the_reporter_set_before_init_hears_errors_before_and_after_it(internal_errors, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("otel-cot bug injected by the test")

    @otel_cot.tool
    def run(command: str) -> str:
        return command

    monkeypatch.setattr(tools.ToolCall, "__init__", boom)
    assert run("ls") == "ls"
    otel_cot.init(tracer_provider=TracerProvider(), instrument=[])
    assert run("pwd") == "pwd"
    otel_cot.shutdown()
    assert run("id") == "id"
    assert [where for where, _ in internal_errors] == ["tool start"] * 3


def test_configure_without_init_sets_the_runtimes_guard():
    guard = configure(BLOCK)
    assert runtime.guard is guard and active() is guard
    configure(None)
    assert runtime.guard is None
