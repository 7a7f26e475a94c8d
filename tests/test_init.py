"""``otel_cot.init()`` as a user meets it: a fresh process, OTEL_* variables, the real OTLP/HTTP exporter."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from .support.fixtures import FIXTURES, load

REASONING = "openai-compatible/chat-nostream--deepseek_model_thinking_part--pydantic-ai.json"
ROOT = Path(__file__).resolve().parent.parent

CALL = """
import json, openai
fx = json.load(open({fixture!r}))
client = openai.OpenAI(api_key="test-key", base_url={base!r}, max_retries=0)
result = client.chat.completions.create(**fx["request"]["body"])
print("RESULT", type(result).__name__)
"""


def _run(script: str, env: dict[str, str], replay, *, command: list[str] | None = None) -> str:
    fx_path = str(FIXTURES / REASONING)
    replay.serve(load(REASONING)["response"])
    code = textwrap.dedent(script).replace("{CALL}", CALL.format(fixture=fx_path, base=replay.url))
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "ANTHROPIC_OPEN"))}
    full_env.update(env)
    proc = subprocess.run((command or [sys.executable]) + ["-c", code], env=full_env, capture_output=True,
                          text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def _otlp_env(sink, **extra):
    return {"OTEL_EXPORTER_OTLP_ENDPOINT": sink.url, "OTEL_SERVICE_NAME": "env-agent", **extra}


@pytest.mark.process
def test_zero_argument_init_exports_reasoning_over_otlp(sink, replay):
    out = _run("""
        import otel_cot
        otel_cot.init()
        {CALL}
        otel_cot.shutdown()
    """, _otlp_env(sink), replay)
    assert "RESULT ChatCompletion" in out
    spans = sink.spans()
    names = sorted(s["name"] for s in spans)
    assert names == ["chat deepseek-reasoner", "reasoning deepseek-reasoner"]
    model = next(s for s in spans if s["name"].startswith("chat"))
    reasoning = next(s for s in spans if s["name"].startswith("reasoning"))
    assert reasoning["parent"] == model["span_id"] and reasoning["trace_id"] == model["trace_id"]
    expected = load(REASONING)["response"]["body"]["choices"][0]["message"]["reasoning_content"]
    assert reasoning["attributes"]["cot.reasoning.content"] == expected
    assert reasoning["attributes"]["cot.reasoning.source"] == "reasoning_content"
    assert model["resource"]["service.name"] == "env-agent"
    assert model["scope"] == "otel_cot"
    assert json.loads(model["attributes"]["gen_ai.output.messages"])[0]["role"] == "assistant"


@pytest.mark.process
def test_service_name_argument_and_idempotent_init(sink, replay):
    _run("""
        import otel_cot
        first = otel_cot.init(service_name="my-agent")
        assert otel_cot.init(service_name="other") is first
        {CALL}
        otel_cot.shutdown()
    """, _otlp_env(sink), replay)
    spans = sink.spans()
    assert len([s for s in spans if s["name"].startswith("chat")]) == 1  # wrapped once, not twice
    assert {s["resource"]["service.name"] for s in spans} == {"my-agent"}


@pytest.mark.process
def test_shutdown_flushes_pending_spans(sink, replay):
    _run("""
        import otel_cot
        otel_cot.init()
        {CALL}
        otel_cot.shutdown()
    """, _otlp_env(sink, OTEL_BSP_SCHEDULE_DELAY="600000"), replay)
    assert len(sink.spans()) == 2


@pytest.mark.process
def test_respects_a_provider_the_application_already_set(sink, replay):
    out = _run("""
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
        exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        trace.set_tracer_provider(provider)
        import otel_cot
        assert otel_cot.init() is provider
        {CALL}
        otel_cot.shutdown()
        print("APP SPANS", sorted(s.name for s in exporter.get_finished_spans()))
    """, _otlp_env(sink), replay)
    assert "APP SPANS ['chat deepseek-reasoner', 'reasoning deepseek-reasoner']" in out
    assert sink.spans() == []  # no exporter of ours was added to the application's provider


@pytest.mark.process
def test_sdk_disabled(sink, replay):
    _run("""
        import otel_cot
        assert otel_cot.init() is None
        {CALL}
        otel_cot.shutdown()
    """, _otlp_env(sink, OTEL_SDK_DISABLED="true"), replay)
    assert sink.spans() == []


@pytest.mark.process
def test_loaded_by_opentelemetry_instrument(replay):
    command = [str(Path(sys.executable).parent / "opentelemetry-instrument"), sys.executable]
    out = _run("""
        from otel_cot.instrumentation.anthropic import AnthropicInstrumentor
        from otel_cot.instrumentation.openai import OpenAIInstrumentor
        print("INSTRUMENTED", OpenAIInstrumentor().is_instrumented_by_opentelemetry,
              AnthropicInstrumentor().is_instrumented_by_opentelemetry)
    """, {"OTEL_TRACES_EXPORTER": "none", "OTEL_METRICS_EXPORTER": "none", "OTEL_LOGS_EXPORTER": "none"},
        replay, command=command)
    assert "INSTRUMENTED True True" in out


def test_unsupported_protocol_is_a_clear_error():
    from otel_cot._setup import build_exporter
    from otel_cot.config import ConfigurationError

    with pytest.raises(ConfigurationError, match="not supported"):
        build_exporter(env={"OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"})
    assert build_exporter(env={"OTEL_TRACES_EXPORTER": "none"}) is None


def test_a_library_that_is_not_installed_is_skipped(monkeypatch, caplog):
    import logging

    from importlib.metadata import EntryPoint

    import otel_cot
    from otel_cot.instrumentation import providers

    real = providers.providers()
    not_there = providers.Provider("not_there", EntryPoint(
        "otel_cot_not_there", "otel_cot.instrumentation.not_there:NotThereInstrumentor", providers.ENTRY_POINT_GROUP),
        "surely_not_installed_pkg", ())
    monkeypatch.setattr(providers, "providers", lambda: {**real, "not_there": not_there})
    with caplog.at_level(logging.DEBUG, logger="otel_cot"):
        found = otel_cot.instrumentors()
    assert "not_there" not in found and {"openai", "anthropic"} <= set(found)
    assert "not_there is not installed" in caplog.text


def test_installing_otel_cot_pulls_in_no_instrumented_sdk():
    from importlib.metadata import requires

    runtime = [r for r in requires("otel-cot") or [] if "extra ==" not in r]
    names = {r.split(">")[0].split("=")[0].split("<")[0].strip().lower() for r in runtime}
    assert not names & {"openai", "anthropic", "google-genai", "mcp", "openai-agents"}


@pytest.mark.process
def test_guard_still_applies_when_telemetry_is_disabled(replay):
    out = _run("""
        import otel_cot
        assert otel_cot.init(guard={"categories": {"destructive_action": "block"}}) is None

        @otel_cot.tool
        def bash(command: str) -> str:
            return "ran"

        try:
            bash("git push --force origin main")
        except otel_cot.ToolCallBlocked:
            print("BLOCKED")
        otel_cot.shutdown()
        print(bash("git push --force origin main"))
    """, {"OTEL_SDK_DISABLED": "true"}, replay)
    assert "BLOCKED" in out and "ran" in out


# --- instrumenting on import: init() imports no SDK ------------------------------------------------------
HEAVY = ("openai", "anthropic", "google.genai", "mcp", "agents", "pydantic", "yaml", "otel_cot.detectors",
         "otel_cot.guard.policy", "otel_cot.guard.check", "otel_cot.instrumentation.openai",
         "otel_cot.instrumentation.anthropic", "otel_cot.instrumentation._base")


@pytest.mark.process
def test_init_imports_no_sdk_no_instrumentor_and_no_detector(replay):
    out = _run(f"""
        import sys
        import otel_cot
        otel_cot.init()
        print("LOADED", sorted(m for m in {HEAVY!r} if m in sys.modules))
        otel_cot.shutdown()
    """, {"OTEL_TRACES_EXPORTER": "none"}, replay)
    assert "LOADED []" in out


@pytest.mark.process
def test_an_sdk_imported_before_init_is_instrumented_by_init(sink, replay):
    _run("""
        import openai
        import otel_cot
        from otel_cot.instrumentation.openai import OpenAIInstrumentor
        otel_cot.init()
        assert OpenAIInstrumentor().is_instrumented_by_opentelemetry
        {CALL}
        otel_cot.shutdown()
        assert not OpenAIInstrumentor().is_instrumented_by_opentelemetry
    """, _otlp_env(sink), replay)
    assert sorted(s["name"] for s in sink.spans()) == ["chat deepseek-reasoner", "reasoning deepseek-reasoner"]


@pytest.mark.process
def test_an_sdk_imported_after_init_is_instrumented_on_import_and_only_the_selected_ones(sink, replay):
    out = _run("""
        import sys
        import otel_cot
        otel_cot.init(instrument=["openai"])
        assert "openai" not in sys.modules
        {CALL}
        import anthropic
        from otel_cot.instrumentation.anthropic import AnthropicInstrumentor
        from otel_cot.instrumentation.openai import OpenAIInstrumentor
        print("INSTRUMENTED", OpenAIInstrumentor().is_instrumented_by_opentelemetry,
              AnthropicInstrumentor().is_instrumented_by_opentelemetry)
        otel_cot.shutdown()
    """, _otlp_env(sink), replay)
    assert "INSTRUMENTED True False" in out
    assert len([s for s in sink.spans() if s["name"].startswith("chat")]) == 1


@pytest.mark.process
def test_importing_an_sdk_after_init_imports_none_of_its_lazy_modules(sink, replay):
    """openai loads its resources on first use; instrumenting it must not load them (they are wrapped when the
    client loads them)."""
    lazy = ["openai.resources.chat.completions", "openai.resources.responses",
            "openai.lib.streaming.chat._completions", "openai.lib.streaming.responses._responses"]
    probe = f"import sys; print('LOADED', [m for m in {lazy!r} if m in sys.modules])"
    bare = _run("import openai\n" + probe, {"OTEL_TRACES_EXPORTER": "none"}, replay)
    assert "LOADED []" in bare, "the SDK now imports these itself: pick modules it loads lazily"
    out = _run("""
        import otel_cot
        otel_cot.init()
        import openai
        from otel_cot.instrumentation.openai import OpenAIInstrumentor
        assert OpenAIInstrumentor().is_instrumented_by_opentelemetry
        PROBE
        {CALL}
        otel_cot.shutdown()
    """.replace("PROBE", probe), _otlp_env(sink), replay)
    assert "LOADED []" in out
    assert sorted(s["name"] for s in sink.spans()) == ["chat deepseek-reasoner", "reasoning deepseek-reasoner"]


@pytest.mark.process
def test_shutdown_before_the_import_disarms_the_hook(sink, replay):
    out = _run("""
        import otel_cot
        otel_cot.init()
        otel_cot.shutdown()
        {CALL}
        from otel_cot.instrumentation.openai import OpenAIInstrumentor
        print("INSTRUMENTED", OpenAIInstrumentor().is_instrumented_by_opentelemetry)
    """, _otlp_env(sink), replay)
    assert "INSTRUMENTED False" in out
    assert sink.spans() == []


@pytest.mark.process
def test_init_after_shutdown_instruments_again(replay):
    out = _run("""
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
        exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        trace.set_tracer_provider(provider)
        import otel_cot
        otel_cot.init()
        otel_cot.shutdown()
        otel_cot.init()
        {CALL}
        otel_cot.shutdown()
        print("APP SPANS", sorted(s.name for s in exporter.get_finished_spans()))
    """, {"OTEL_TRACES_EXPORTER": "none"}, replay)
    assert "APP SPANS ['chat deepseek-reasoner', 'reasoning deepseek-reasoner']" in out
