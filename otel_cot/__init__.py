"""otel-cot: OpenTelemetry spans for what AI coding agents think and do.

    import otel_cot
    otel_cot.init(service_name="my-agent")

Everything else (the agent's openai / anthropic code) stays as it is.
"""

from __future__ import annotations

import logging
import os
from typing import Any, Iterable, Mapping

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter

from ._setup import add_exporter, build_exporter, build_provider
from ._version import __version__
from .config import ConfigurationError, Settings
from .guard import Decision, ToolCallBlocked, configure
from .guard.api import GUARD_CONFIG_ENV
from .instrumentation.on_import import InstrumentOnImport
from .instrumentation.providers import installed_instrumentors, providers
from .instrumentation.tool_check import acheck_tool_call, check_tool_call
from .instrumentation.tools import agent, tool
from .internal_errors import set_internal_error_reporter
from .runtime import runtime

__all__ = [
    "ConfigurationError",
    "Decision",
    "Settings",
    "ToolCallBlocked",
    "__version__",
    "acheck_tool_call",
    "agent",
    "check_tool_call",
    "init",
    "instrumentors",
    "set_internal_error_reporter",
    "shutdown",
    "tool",
]

logger = logging.getLogger("otel_cot")


def instrumentors() -> dict[str, type]:
    """Our instrumentors by library, for the libraries that are installed (the SDKs are optional)."""
    return installed_instrumentors()


def init(
    service_name: str | None = None,
    *,
    endpoint: str | None = None,
    protocol: str | None = None,
    headers: Mapping[str, str] | None = None,
    capture_content: bool | None = None,
    max_content_length: int | None = None,
    redact_secrets: bool | None = None,
    detect: bool | None = None,
    detectors_config: str | None = None,
    instrument: Iterable[str] | None = None,
    tracer_provider: TracerProvider | None = None,
    span_exporter: SpanExporter | None = None,
    guard: Any = None,
    shutdown_timeout: float | None = None,
) -> TracerProvider | None:
    """Instrument every supported library (when it is imported) and export spans over OTLP.

    With no arguments everything comes from the standard ``OTEL_*`` variables
    (``OTEL_SERVICE_NAME``, ``OTEL_EXPORTER_OTLP_ENDPOINT``, ``OTEL_EXPORTER_OTLP_PROTOCOL``, ...)
    and ``OTEL_COT_*``. A tracer provider the application already installed is used as it is
    (no exporter is added to it unless ``endpoint`` or ``span_exporter`` is given). Calling
    ``init()`` again does nothing until :func:`shutdown`.

    ``detect=True`` (or ``OTEL_COT_DETECT=true``) runs the misalignment detectors on the export
    thread, before the spans leave the process, so findings arrive on the spans without a collector.
    ``detectors_config`` (or ``OTEL_COT_DETECTORS_CONFIG``) is a detector config file for it: which
    detectors run and, in its ``detectors.monitor`` section, the model-based monitor (off without one).

    ``guard`` (a policy mapping, an ``otel_cot.guard.Policy`` or a YAML path; else
    ``OTEL_COT_GUARD_CONFIG``) turns on the runtime guard: tool calls are checked before they run
    and logged, asked about or blocked by policy (docs/guard.md).

    ``shutdown_timeout`` (seconds; else ``OTEL_COT_SHUTDOWN_TIMEOUT``, default 3) bounds what :func:`shutdown` and
    interpreter exit spend delivering the last spans through the exporter otel-cot adds; spans a backend did not
    take by then are reported in one warning line.
    """
    with runtime.lock:
        if runtime.started:
            logger.debug("otel-cot: init() called again; keeping the first configuration")
            return runtime.provider
        if (os.environ.get("OTEL_SDK_DISABLED") or "").strip().lower() == "true":
            # Telemetry off is not safety off: a configured guard still checks @tool and check_tool_call().
            logger.info("otel-cot: OTEL_SDK_DISABLED=true, not instrumenting")
            _configure_guard(guard)
            return None
        settings = Settings.from_env(
            service_name=service_name,
            capture_content=capture_content,
            max_content_length=max_content_length,
            redact_secrets=redact_secrets,
            detect=detect,
            detectors_config=detectors_config,
            instrument=tuple(instrument) if instrument is not None else None,
            shutdown_timeout=shutdown_timeout,
        )
        owned = False
        processors: list[Any] = []
        provider = tracer_provider
        if provider is None:
            current = trace.get_tracer_provider()
            if isinstance(current, TracerProvider):
                provider = current
            else:
                provider = build_provider(settings.service_name)
                owned = True
        if owned or endpoint is not None or span_exporter is not None:
            sender = span_exporter or build_exporter(endpoint, protocol, headers)
            if sender is not None:
                exporter = sender
                if settings.detect:
                    exporter = _detecting_exporter(sender, settings.detectors_config)
                processors.append(add_exporter(provider, exporter, settings.shutdown_timeout, sender))
        elif settings.detect:
            logger.warning("otel-cot: detect=True needs an exporter of ours; the application's provider has its "
                           "own, so wrap it in otel_cot.detectors.exporter.DetectingSpanExporter")
        if owned:
            trace.set_tracer_provider(provider)
        runtime.settings = settings
        _configure_guard(guard)
        runtime.start(provider, owned, _instrument_on_import(provider, settings), processors)
        return provider


def _detecting_exporter(exporter: SpanExporter, config_path: str | None) -> SpanExporter:
    """``exporter`` behind the in-process detectors: the built-ins, or what the detector config file at
    ``config_path`` selects, with the model-based monitor when that file configures one."""
    from .detectors.exporter import DetectingSpanExporter

    if not config_path:
        return DetectingSpanExporter(exporter)
    from .detectors.engine import Engine
    from .detectors.registry import load_config_file
    from .monitor import Monitor, MonitorRunner, load_monitor_config
    from .monitor.metrics import register_metrics

    config = load_monitor_config(config_path)
    runner = None
    if config is not None:
        monitor = Monitor(config)
        register_metrics(monitor.stats)  # on the application's MeterProvider, if it set one
        runner = MonitorRunner(monitor)
    return DetectingSpanExporter(exporter, Engine(load_config_file(config_path)), monitor=runner)


def _configure_guard(policy: Any) -> None:
    if policy is None:
        if not os.environ.get(GUARD_CONFIG_ENV, "").strip():
            return  # no guard asked for: the policy module (YAML, the detectors) stays unimported
        from .guard.policy import policy_from_env

        policy = policy_from_env()
    configure(policy)


def _instrument_on_import(provider: TracerProvider, settings: Settings) -> list[InstrumentOnImport]:
    """A hook per selected library: it is instrumented when imported (at once if it already is), so ``init()``
    imports none of them."""
    return [InstrumentOnImport(p, provider, settings).arm() for name, p in providers().items()
            if settings.instrument is None or name in settings.instrument]


def shutdown(timeout_millis: int | None = None) -> None:
    """Flush every pending span, remove our wrappers, and stop exporting if ``init()`` made the provider.

    The flush through the exporter otel-cot added ends within ``timeout_millis`` (default: ``init()``'s
    ``shutdown_timeout``); what the backend did not take by then is reported in one warning line."""
    with runtime.lock:
        configure(None)
        runtime.stop(timeout_millis)
