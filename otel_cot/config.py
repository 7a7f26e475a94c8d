"""One Settings object, from keyword arguments and OTEL_COT_* / OTEL_* environment variables.

Precedence, highest first: a keyword argument to ``init()``, ``OTEL_COT_*``, the standard
OpenTelemetry variable, the default.
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass, replace
from typing import Any, Mapping

from .runtime import runtime

logger = logging.getLogger("otel_cot")

DEFAULT_MAX_CONTENT_LENGTH = 32_768
"""Characters kept per captured value (a message part, a reasoning block, a tool argument)."""

DEFAULT_SHUTDOWN_TIMEOUT = 3.0
"""Seconds ``shutdown()`` and interpreter exit may wait for the backend to take the last spans."""

GUARD_CONFIG_ENV = "OTEL_COT_GUARD_CONFIG"
"""The variable naming the guard's YAML policy file (read by ``otel_cot.init()``)."""

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
# Values of OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT in the newer GenAI utilities.
_GENAI_CONTENT_ON = {"span_only", "span_and_event", "event_only"}
_GENAI_CONTENT_OFF = {"no_content"}


class ConfigurationError(ValueError):
    """A setting has a value otel-cot cannot use."""


def _env_bool(name: str, env: Mapping[str, str]) -> bool | None:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return None
    value = raw.strip().lower()
    if value in _TRUE or value in _GENAI_CONTENT_ON:
        return True
    if value in _FALSE or value in _GENAI_CONTENT_OFF:
        return False
    logger.warning("otel-cot: ignoring %s=%r (expected true or false)", name, raw)
    return None


def _env_int(name: str, env: Mapping[str, str]) -> int | None:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return None
    try:
        value = int(raw.strip())
    except ValueError:
        logger.warning("otel-cot: ignoring %s=%r (expected a whole number)", name, raw)
        return None
    if value < 1:
        logger.warning("otel-cot: ignoring %s=%r (must be at least 1)", name, raw)
        return None
    return value


def _env_seconds(names: tuple[str, ...], env: Mapping[str, str]) -> float | None:
    """The first of ``names`` that is set, as seconds (0 or more)."""
    for name in names:
        raw = env.get(name)
        if raw is None or raw.strip() == "":
            continue
        try:
            value = float(raw.strip())
        except ValueError:
            value = -1.0
        if math.isfinite(value) and value >= 0:
            return value
        logger.warning("otel-cot: ignoring %s=%r (expected seconds, 0 or more)", name, raw)
    return None


@dataclass(frozen=True)
class Settings:
    """What the instrumentation captures and how it exports."""

    service_name: str | None = None
    capture_content: bool = True
    max_content_length: int = DEFAULT_MAX_CONTENT_LENGTH
    redact_secrets: bool = True
    detect: bool = False
    """Run the misalignment detectors in-process, before export (no collector needed)."""
    detectors_config: str | None = None
    """A detector config file for ``detect``: which detectors run, and the model-based monitor
    (its ``detectors.monitor`` section; off when absent)."""
    instrument: tuple[str, ...] | None = None
    """Library names to instrument (``"openai"``, ``"anthropic"``); ``None`` means every one installed."""
    shutdown_timeout: float = DEFAULT_SHUTDOWN_TIMEOUT
    """Seconds a flush at shutdown (``shutdown()``, interpreter exit) may spend on the exporter otel-cot adds."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> "Settings":
        env = os.environ if env is None else env
        capture = _env_bool("OTEL_COT_CAPTURE_CONTENT", env)
        if capture is None:
            capture = _env_bool("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", env)
        values: dict[str, Any] = {
            "service_name": env.get("OTEL_SERVICE_NAME") or None,
            "capture_content": True if capture is None else capture,
            "max_content_length": _env_int("OTEL_COT_MAX_CONTENT_LENGTH", env) or DEFAULT_MAX_CONTENT_LENGTH,
            "redact_secrets": _env_bool("OTEL_COT_REDACT_SECRETS", env) is not False,
            "detect": _env_bool("OTEL_COT_DETECT", env) is True,
            "shutdown_timeout": _shutdown_timeout(env),
            "detectors_config": env.get("OTEL_COT_DETECTORS_CONFIG") or None,
        }
        instrument = env.get("OTEL_COT_INSTRUMENT")
        if instrument:
            values["instrument"] = tuple(p.strip() for p in instrument.split(",") if p.strip())
        settings = cls(**values)
        given = {k: v for k, v in overrides.items() if v is not None}
        if "instrument" in given:
            given["instrument"] = tuple(given["instrument"])
        settings = replace(settings, **given)
        if settings.max_content_length < 1:
            raise ConfigurationError(f"max_content_length must be at least 1, got {settings.max_content_length}")
        if not settings.shutdown_timeout >= 0:
            raise ConfigurationError(f"shutdown_timeout must be 0 or more seconds, got {settings.shutdown_timeout}")
        return settings


def _shutdown_timeout(env: Mapping[str, str]) -> float:
    """``OTEL_COT_SHUTDOWN_TIMEOUT``, else the default, lowered to the OTLP export timeout when that is shorter
    (the Python OTLP exporters read ``OTEL_EXPORTER_OTLP_TIMEOUT`` as seconds)."""
    own = _env_seconds(("OTEL_COT_SHUTDOWN_TIMEOUT",), env)
    if own is not None:
        return own
    export = _env_seconds(("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT"), env)
    return DEFAULT_SHUTDOWN_TIMEOUT if export is None else min(DEFAULT_SHUTDOWN_TIMEOUT, export)


def current() -> Settings:
    """The settings in force: the ones ``init()`` set, else the environment's (read once)."""
    settings = runtime.settings
    if settings is None:
        settings = runtime.settings = Settings.from_env()
    return settings
