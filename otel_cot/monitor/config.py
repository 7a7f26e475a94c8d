"""The monitor's settings: the ``monitor`` key of a detector config file's ``detectors`` section.

    detectors:
      monitor:
        api: openai                    # openai (Chat Completions: OpenAI, vLLM, Ollama, llama.cpp) | anthropic
        endpoint: http://127.0.0.1:11434/v1
        model: qwen3:8b
        api_key_env: OPENAI_API_KEY    # the NAME of the variable holding the key; never the key
        triggers: {flagged: true, sample: 0.05}
        budgets: {calls_per_minute: 30, tokens_per_day: 5000000}

Every key is checked when the file is read; an error names the file and the key path
(``team.yaml: detectors.monitor.budgets.calls_per_minute: expected a whole number >= 0, got 'lots'``).
The key itself is read from the environment when the judge client is built, not stored here.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any, Mapping

import yaml

from ..config import ConfigurationError
from .prompt import load_prompt

APIS = ("openai", "anthropic")
DEFAULT_ENDPOINTS = {"openai": "https://api.openai.com/v1", "anthropic": "https://api.anthropic.com"}
DEFAULT_KEY_ENVS = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY"}

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNITS = {None: 1.0, "ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


@dataclass(frozen=True)
class Triggers:
    """Which traces the judge reads, decided when a trace ends."""

    every_trace: bool = False
    """Every trace."""
    flagged: bool = True
    """Traces a rule detector flagged: the monitor confirms (a finding of the same category) or dismisses."""
    sample: float = 0.0
    """This fraction of the other traces, chosen by trace id (the same trace is chosen everywhere)."""


@dataclass(frozen=True)
class Budgets:
    """Judge calls and tokens (input + output) allowed per minute and per UTC day; 0 means no limit."""

    calls_per_minute: int = 30
    calls_per_day: int = 2_000
    tokens_per_minute: int = 300_000
    tokens_per_day: int = 10_000_000


@dataclass(frozen=True)
class MonitorConfig:
    model: str
    api: str = "openai"
    endpoint: str | None = None
    api_key_env: str | None = None
    structured_output: bool = True
    prompt: str = "v1"
    max_output_tokens: int = 1024
    temperature: float | None = None
    timeout_s: float = 30.0
    max_retry_after_s: float = 60.0
    window_tokens: int = 12_000
    triggers: Triggers = field(default_factory=Triggers)
    budgets: Budgets = field(default_factory=Budgets)
    cache_size: int = 1024
    concurrency: int = 2
    queue_size: int = 256
    trace_idle_s: float = 30.0
    max_traces: int = 10_000
    drain_timeout_s: float = 5.0

    @property
    def base_url(self) -> str:
        return self.endpoint or DEFAULT_ENDPOINTS[self.api]

    def api_key(self, environ: Mapping[str, str] | None = None) -> str | None:
        """The key from the environment variable named in the config (None when no variable is named)."""
        if not self.api_key_env:
            return None
        env = os.environ if environ is None else environ
        return env.get(self.api_key_env)


class _Reader:
    """One mapping of the config; every key read is recorded so that unknown ones can be reported."""

    def __init__(self, data: Any, path: str, where: str) -> None:
        if data is None:
            data = {}
        if not isinstance(data, Mapping):
            raise ConfigurationError(f"{where}{path}: expected a mapping, got {type(data).__name__}")
        self.data, self.path, self.where = data, path, where
        self.known: list[str] = []

    def error(self, key: str, message: str) -> ConfigurationError:
        return ConfigurationError(f"{self.where}{self.path}.{key}: {message}")

    def raw(self, key: str) -> Any:
        self.known.append(key)
        return self.data.get(key)

    def string(self, key: str, default: str | None = None, choices: tuple[str, ...] | None = None) -> str | None:
        value = self.raw(key)
        if value is None:
            return default
        if not isinstance(value, str) or not value.strip():
            raise self.error(key, f"expected a non-empty string, got {value!r}")
        if choices and value not in choices:
            raise self.error(key, f"expected one of {', '.join(choices)}, got {value!r}")
        return value.strip()

    def boolean(self, key: str, default: bool) -> bool:
        value = self.raw(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self.error(key, f"expected true or false, got {value!r}")
        return value

    def whole(self, key: str, default: int, low: int = 0) -> int:
        value = self.raw(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise self.error(key, f"expected a whole number >= {low}, got {value!r}")
        return value

    def number(self, key: str, default: float | None, low: float, high: float) -> float | None:
        value = self.raw(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
            raise self.error(key, f"expected a number from {low:g} to {high:g}, got {value!r}")
        return float(value)

    def seconds(self, key: str, default: float, positive: bool = True) -> float:
        value = self.raw(key)
        if value is None:
            return default
        if isinstance(value, bool):
            out = None
        elif isinstance(value, (int, float)):
            out = float(value)
        else:
            m = _DURATION.match(str(value))
            out = float(m.group(1)) * _UNITS[m.group(2)] if m else None
        if out is None or out < 0 or (positive and out == 0):
            raise self.error(key, f"expected a duration like 30s, 500ms or 2m{' above 0' if positive else ''}, "
                                  f"got {value!r}")
        return out

    def section(self, key: str) -> "_Reader":
        self.known.append(key)
        return _Reader(self.data.get(key), f"{self.path}.{key}", self.where)

    def finish(self) -> None:
        for key in self.data:
            if key not in self.known:
                raise self.error(str(key), f"unknown key (allowed here: {', '.join(sorted(self.known))})")


def parse_monitor(data: Any, path: str = "detectors.monitor", where: str = "",
                  base_dir: str | None = None) -> MonitorConfig | None:
    """A validated :class:`MonitorConfig` from the ``monitor`` mapping; None when it is absent or
    ``enabled: false``. ``path`` and ``where`` (e.g. ``"team.yaml: "``) prefix every error; a prompt file
    path is relative to ``base_dir`` (the config file's folder)."""
    if data is None:
        return None
    r = _Reader(data, path, where)
    if not r.boolean("enabled", True):
        r.known.extend(str(k) for k in r.data)  # a switched-off section is not validated further
        return None
    if "api_key" in r.data:
        raise r.error("api_key", "the key must not be in the file: put it in an environment variable and name "
                                 "that variable in api_key_env")
    api = r.string("api", "openai", APIS) or "openai"
    model = r.string("model")
    if model is None:
        raise r.error("model", "required (the judge model's name, e.g. gpt-4o-mini)")
    key_env = r.string("api_key_env", DEFAULT_KEY_ENVS[api] if r.data.get("endpoint") is None else None)
    if key_env is not None and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key_env):
        raise r.error("api_key_env", f"expected the name of an environment variable, got {key_env!r}")
    endpoint = r.string("endpoint")
    if endpoint is not None and not re.match(r"^https?://", endpoint):
        raise r.error("endpoint", f"expected an http:// or https:// base URL, got {endpoint!r}")
    prompt = r.string("prompt", "v1") or "v1"
    if not re.fullmatch(r"v\d+", prompt) and base_dir and not os.path.isabs(prompt):
        prompt = os.path.join(base_dir, prompt)
    try:
        load_prompt(prompt)
    except ConfigurationError as exc:
        raise r.error("prompt", str(exc)) from None
    t = r.section("triggers")
    triggers = Triggers(every_trace=t.boolean("every_trace", False), flagged=t.boolean("flagged", True),
                        sample=t.number("sample", 0.0, 0.0, 1.0) or 0.0)
    t.finish()
    b = r.section("budgets")
    defaults = Budgets()
    budgets = Budgets(
        calls_per_minute=b.whole("calls_per_minute", defaults.calls_per_minute),
        calls_per_day=b.whole("calls_per_day", defaults.calls_per_day),
        tokens_per_minute=b.whole("tokens_per_minute", defaults.tokens_per_minute),
        tokens_per_day=b.whole("tokens_per_day", defaults.tokens_per_day),
    )
    b.finish()
    w = r.section("window")
    window_tokens = w.whole("max_tokens", 12_000, low=500)
    w.finish()
    config = MonitorConfig(
        model=model,
        api=api,
        endpoint=endpoint,
        api_key_env=key_env,
        structured_output=r.boolean("structured_output", True),
        prompt=prompt,
        max_output_tokens=r.whole("max_output_tokens", 1024, low=64),
        temperature=r.number("temperature", None, 0.0, 2.0),
        timeout_s=r.seconds("timeout", 30.0),
        max_retry_after_s=r.seconds("max_retry_after", 60.0, positive=False),
        window_tokens=window_tokens,
        triggers=triggers,
        budgets=budgets,
        cache_size=r.whole("cache_size", 1024),
        concurrency=r.whole("concurrency", 2, low=1),
        queue_size=r.whole("queue_size", 256, low=1),
        trace_idle_s=r.seconds("trace_idle", 30.0),
        max_traces=r.whole("max_traces", 10_000, low=1),
        drain_timeout_s=r.seconds("drain_timeout", 5.0, positive=False),
    )
    r.finish()
    if key_env is not None and key_env not in os.environ:
        raise r.error("api_key_env", f"environment variable {key_env} is not set (the judge's API key)")
    return config


def monitor_section(data: Any) -> Any:
    """The ``monitor`` mapping of a detector config document (its ``detectors`` section, or the whole file)."""
    if not isinstance(data, Mapping):
        return None
    section = data.get("detectors", data)
    return section.get("monitor") if isinstance(section, Mapping) else None


def load_monitor_config(path: str) -> MonitorConfig | None:
    """The monitor settings of a detector config file; None when it has no (enabled) ``monitor`` section."""
    try:
        with open(path, encoding="utf-8") as fh:
            data = yaml.safe_load(fh)
    except OSError as exc:
        raise ConfigurationError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except yaml.YAMLError as exc:
        raise ConfigurationError(f"{path}: not YAML ({exc})") from None
    return parse_monitor(monitor_section(data), where=f"{path}: ",
                         base_dir=os.path.dirname(os.path.abspath(path)))
