"""Judge clients: one request, one reply, through the real ``openai`` and ``anthropic`` SDKs.

- :class:`ChatCompletionsJudge`: OpenAI Chat Completions and the servers that speak it (vLLM, Ollama,
  llama.cpp, LiteLLM...). Structured output is ``response_format`` ``json_schema`` (strict).
- :class:`MessagesJudge`: Anthropic Messages. Structured output is one forced tool whose input schema is
  the verdict's.

With ``structured_output: false`` the request carries no schema and the verdict is parsed from the text
(see :mod:`.verdict`). Every call runs with OpenTelemetry instrumentation suppressed, so no
instrumentation that honours the suppression key (ours included) traces the judge or feeds its
messages to the detectors; the anthropic SDK's own tracing is switched off on the judge's client. The
SDKs' own retries are off: the monitor decides what a timeout or a 429 means (:mod:`.monitor`).
"""

from __future__ import annotations

import email.utils
import inspect
import time
from dataclasses import dataclass
from typing import Any, Mapping, Protocol
from urllib.parse import urlparse

from opentelemetry.instrumentation.utils import suppress_instrumentation

from .config import MonitorConfig

TOOL_NAME = "record_verdict"
SCHEMA_NAME = "cot_monitor_verdict"
_NO_KEY = "no-key"  # local servers take any key; the SDKs refuse to start without one


@dataclass(frozen=True)
class JudgeReply:
    content: str | Mapping[str, Any]
    """The answer's text, or the object structured output returned."""
    input_tokens: int | None = None
    output_tokens: int | None = None
    model: str | None = None
    response_id: str | None = None


class JudgeError(Exception):
    """A call that gave no answer. ``kind``: ``timeout``, ``rate_limited`` (``retry_after`` seconds when
    the server said), ``api_error`` (``status``), ``connection``."""

    def __init__(self, kind: str, message: str, retry_after: float | None = None, status: int | None = None):
        super().__init__(message)
        self.kind = kind
        self.retry_after = retry_after
        self.status = status


class Judge(Protocol):
    provider: str
    model: str

    def complete(self, system: str, user: str, schema: Mapping[str, Any]) -> JudgeReply: ...


def retry_after_seconds(headers: Mapping[str, str] | None, now: float | None = None) -> float | None:
    """Seconds to wait from ``retry-after-ms``, or ``retry-after`` (seconds or an HTTP date)."""
    if not headers:
        return None
    raw_ms = headers.get("retry-after-ms")
    if raw_ms:
        try:
            return max(0.0, float(raw_ms) / 1000)
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if not raw:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw).timestamp()
    except (TypeError, ValueError):
        return None
    return max(0.0, when - (time.time() if now is None else now))


def _sdk_error(exc: Exception, sdk: Any) -> JudgeError:
    """Our error for an SDK exception (both SDKs name their errors alike)."""
    if isinstance(exc, sdk.APITimeoutError):
        return JudgeError("timeout", f"the judge did not answer in time ({exc})")
    if isinstance(exc, sdk.RateLimitError):
        headers = getattr(getattr(exc, "response", None), "headers", None)
        return JudgeError("rate_limited", f"the judge is rate limited ({exc})", retry_after_seconds(headers),
                          status=429)
    if isinstance(exc, sdk.APIStatusError):
        return JudgeError("api_error", f"the judge answered HTTP {exc.status_code}: {exc}", status=exc.status_code)
    if isinstance(exc, sdk.APIConnectionError):
        return JudgeError("connection", f"cannot reach the judge ({exc})")
    return JudgeError("api_error", f"{type(exc).__name__}: {exc}")


def _usage(usage: Any, names: tuple[str, str]) -> tuple[int | None, int | None]:
    if usage is None:
        return None, None
    values = tuple(getattr(usage, n, None) for n in names)
    return tuple(v if isinstance(v, int) else None for v in values)  # type: ignore[return-value]


class ChatCompletionsJudge:
    provider = "openai"

    def __init__(self, config: MonitorConfig, api_key: str | None = None) -> None:
        import openai

        self._sdk = openai
        self.model = config.model
        self._config = config
        self._client = openai.OpenAI(base_url=config.base_url, api_key=api_key or config.api_key() or _NO_KEY,
                                     timeout=config.timeout_s, max_retries=0)
        # OpenAI's own API wants max_completion_tokens (reasoning models refuse max_tokens); the servers
        # that copy the API (vLLM, Ollama, llama.cpp) all read max_tokens.
        host = urlparse(config.base_url).hostname or ""
        self._max_field = "max_completion_tokens" if host.endswith("openai.com") else "max_tokens"

    def complete(self, system: str, user: str, schema: Mapping[str, Any]) -> JudgeReply:
        kwargs: dict[str, Any] = {
            "model": self.model,
            "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}],
            self._max_field: self._config.max_output_tokens,
        }
        if self._config.temperature is not None:
            kwargs["temperature"] = self._config.temperature
        if self._config.structured_output:
            kwargs["response_format"] = {"type": "json_schema", "json_schema": {
                "name": SCHEMA_NAME, "strict": True, "schema": dict(schema)}}
        try:
            with suppress_instrumentation():
                response = self._client.chat.completions.create(**kwargs)
        except self._sdk.OpenAIError as exc:
            raise _sdk_error(exc, self._sdk) from None
        choice = response.choices[0] if response.choices else None
        text = (choice.message.content if choice is not None else None) or ""
        tokens_in, tokens_out = _usage(response.usage, ("prompt_tokens", "completion_tokens"))
        return JudgeReply(text, tokens_in, tokens_out, response.model, response.id)


class MessagesJudge:
    provider = "anthropic"

    def __init__(self, config: MonitorConfig, api_key: str | None = None) -> None:
        import anthropic

        self._sdk = anthropic
        self.model = config.model
        self._config = config
        kwargs: dict[str, Any] = {"base_url": config.base_url, "api_key": api_key or config.api_key() or _NO_KEY,
                                  "timeout": config.timeout_s, "max_retries": 0}
        if "open_telemetry" in inspect.signature(anthropic.Anthropic.__init__).parameters:
            kwargs["open_telemetry"] = False  # the SDK's own spans (anthropic 2.x) would trace the judge
        self._client = anthropic.Anthropic(**kwargs)

    def complete(self, system: str, user: str, schema: Mapping[str, Any]) -> JudgeReply:
        kwargs: dict[str, Any] = {
            "model": self.model,
            "max_tokens": self._config.max_output_tokens,
            "system": system,
            "messages": [{"role": "user", "content": user}],
        }
        if self._config.temperature is not None:
            kwargs["temperature"] = self._config.temperature
        if self._config.structured_output:
            kwargs["tools"] = [{"name": TOOL_NAME, "description": "Record the monitor's verdict about the trace.",
                                "input_schema": dict(schema)}]
            kwargs["tool_choice"] = {"type": "tool", "name": TOOL_NAME}
        try:
            with suppress_instrumentation():
                response = self._client.messages.create(**kwargs)
        except self._sdk.AnthropicError as exc:
            raise _sdk_error(exc, self._sdk) from None
        content: str | Mapping[str, Any] = ""
        texts = []
        for block in response.content or ():
            if getattr(block, "type", None) == "tool_use" and getattr(block, "name", None) == TOOL_NAME:
                content = block.input if isinstance(block.input, Mapping) else {}
                break
            if getattr(block, "type", None) == "text":
                texts.append(block.text)
        else:
            content = "".join(texts)
        tokens_in, tokens_out = _usage(response.usage, ("input_tokens", "output_tokens"))
        return JudgeReply(content, tokens_in, tokens_out, response.model, response.id)


def make_judge(config: MonitorConfig) -> Judge:
    """The judge client ``config.api`` names."""
    if config.api == "anthropic":
        return MessagesJudge(config)
    return ChatCompletionsJudge(config)
