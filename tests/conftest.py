from __future__ import annotations

from typing import Any, Callable, Iterator

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otel_cot import set_internal_error_reporter
from otel_cot.config import Settings
from otel_cot.instrumentation.providers import providers
from otel_cot.runtime import runtime

from .support.hook_replay import reap_stopped_checkers
from .support.otlp_sink import OtlpSink
from .support.replay import ReplayServer

_EXPORTER = InMemorySpanExporter()
_PROVIDER = TracerProvider()
_PROVIDER.add_span_processor(SimpleSpanProcessor(_EXPORTER))
# Global too, so an SDK's own tracing (anthropic 2.x) lands next to ours and duplicates show.
trace.set_tracer_provider(_PROVIDER)


def pytest_sessionfinish(session: pytest.Session) -> None:
    reap_stopped_checkers()  # the hook tests' checkers, asked to stop as each test ended


@pytest.fixture(scope="session")
def replay() -> Iterator[ReplayServer]:
    server = ReplayServer()
    yield server
    server.close()


# Providers switched on by fixtures of their own (the agents SDK adds a tracing processor; MCP has two sides).
_OWN_FIXTURES = {"mcp": "mcp_instrumentation", "openai_agents": "agents"}


class Instrumentation:
    """Our instrumentors on the test provider (every provider of the registry but those with a fixture of their
    own: the model SDKs); ``off()`` gives the bare SDK for comparisons."""

    def __init__(self) -> None:
        self.instrumentors = [provider.load()() for name, provider in providers().items()
                              if name not in _OWN_FIXTURES and provider.installed()]
        self.settings = Settings.from_env({})

    def on(self, settings: Settings | None = None) -> None:
        self.off()
        for instrumentor in self.instrumentors:
            instrumentor.instrument(tracer_provider=_PROVIDER, settings=settings or self.settings)

    def off(self) -> None:
        for instrumentor in self.instrumentors:
            if instrumentor.is_instrumented_by_opentelemetry:
                instrumentor.uninstrument()


def bare_then_instrumented(call: Callable[[], Any], instrumentation: Instrumentation, spans: "Spans") -> Any:
    """``call()`` without otel-cot, then with it (spans cleared in between); the instrumented result, which
    must equal the bare one."""
    instrumentation.off()
    bare = call()
    instrumentation.on()
    spans.clear()
    result = call()
    assert result == bare, "instrumentation changed what the SDK returned"
    return result


@pytest.fixture
def mcp_instrumentation(instrumentation: Instrumentation) -> Iterator[Any]:
    """The MCP instrumentor on the test settings (yielded, for tests that switch it off)."""
    from otel_cot.instrumentation.mcp import MCPInstrumentor

    instrumentor = MCPInstrumentor()
    instrumentor.instrument(settings=instrumentation.settings)
    yield instrumentor
    if instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.uninstrument()


@pytest.fixture
def agents(instrumentation: Instrumentation, spans: "Spans") -> Iterator[Any]:
    """The OpenAI Agents SDK instrumentation (with the OpenAI one) in place of the plain instrumentors."""
    from .support import agents_sdk as sdk

    instrumentation.off()
    on = sdk.AgentsSdk(_PROVIDER, instrumentation.settings)
    on.on()
    yield on
    on.off()


@pytest.fixture
def sink() -> Iterator[OtlpSink]:
    """A loopback OTLP receiver (for spans a subprocess exports, e.g. the test MCP server's)."""
    receiver = OtlpSink()
    yield receiver
    receiver.close()


@pytest.fixture
def instrumentation() -> Iterator[Instrumentation]:
    inst = Instrumentation()
    inst.on()
    yield inst
    inst.off()


class Spans:
    def __init__(self, exporter: InMemorySpanExporter) -> None:
        self._exporter = exporter

    def clear(self) -> None:
        self._exporter.clear()

    def all(self) -> list[ReadableSpan]:
        return list(self._exporter.get_finished_spans())

    def model_calls(self) -> list[ReadableSpan]:
        return [s for s in self.all()
                if (s.attributes or {}).get("gen_ai.operation.name") in ("chat", "generate_content")
                or s.name.startswith("anthropic.messages.create")]

    def reasoning(self) -> list[ReadableSpan]:
        return [s for s in self.all() if s.name.startswith("reasoning")]


@pytest.fixture
def spans(instrumentation: Instrumentation) -> Iterator[Spans]:
    _EXPORTER.clear()
    yield Spans(_EXPORTER)
    _EXPORTER.clear()


@pytest.fixture(autouse=True)
def fresh_runtime() -> Iterator[None]:
    """Each test starts and ends with otel-cot's process-wide state as at import: no guard, no pending tool
    calls, the environment's settings, nothing left of an ``init()``."""
    runtime.reset()
    yield
    runtime.reset()


@pytest.fixture(autouse=True)
def internal_errors(request: pytest.FixtureRequest, fresh_runtime: None) -> Iterator[list[tuple[str, BaseException]]]:
    """Fails a test whose run made otel-cot report an internal error, unless it asks for them."""
    errors: list[tuple[str, BaseException]] = []
    previous = set_internal_error_reporter(lambda where, exc: errors.append((where, exc)))
    yield errors
    set_internal_error_reporter(previous)
    if "expects_internal_errors" not in request.keywords:
        assert not errors, f"otel-cot reported internal errors: {errors!r}"


def attrs(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})
