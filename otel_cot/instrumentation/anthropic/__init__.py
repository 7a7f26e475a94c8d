"""Anthropic instrumentation: ``messages`` and ``beta.messages``, create / parse / stream, sync and async.

One model-call span per call: the ``anthropic`` SDK (2.x) traces its own API calls
(``anthropic.messages.create``). For the calls otel-cot instruments, that SDK span is
suppressed and ours — with reasoning spans as children — is the only model-call span.
Every other span the SDK emits (count_tokens, sessions, the tool runner's) is left alone.
"""

from __future__ import annotations

from typing import Any, Callable

from opentelemetry import context as otel_context

from ...internal_errors import report_internal_error
from .._base import CotInstrumentor, Telemetry
from .._model_call import MODEL_CALL_ACTIVE_KEY
from .._wrappers import (
    ApiAdapter,
    async_close_wrapper,
    close_wrapper,
    model_method_wrapper,
    run_model_call,
    run_model_call_async,
)
from . import messages
from .package import _instruments

__all__ = ["AnthropicInstrumentor"]

_SDK_MODEL_SPAN = "anthropic.messages.create"


def _suppress_sdk_model_span(wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict) -> Any:
    """``anthropic._base_client.start_api_call_span``: no SDK span for a call otel-cot already traces."""
    try:
        options = args[2] if len(args) > 2 else kwargs.get("options")
        if otel_context.get_value(MODEL_CALL_ACTIVE_KEY) and getattr(options, "span_name", None) == _SDK_MODEL_SPAN:
            return None
    except Exception as exc:
        report_internal_error("anthropic span suppression", exc)
    return wrapped(*args, **kwargs)


def _stream_method_wrapper(telemetry: Telemetry, adapter: ApiAdapter, is_async: bool) -> Callable[..., Any]:
    """``messages.stream()`` returns a manager that sends the request on ``__enter__``.

    The manager keeps that request as a private thunk (an awaitable when async); we replace
    it with one that runs inside our model-call span, so the manager the caller gets is the
    SDK's own object.
    """

    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict) -> Any:
        manager = wrapped(*args, **kwargs)
        try:
            name = next((k for k in vars(manager) if k.endswith("__api_request")), None)
            if name is None:
                return manager
            original = getattr(manager, name)
            request_kwargs = {**kwargs, "stream": True}
            if is_async:
                deferred: Any = run_model_call_async(telemetry, adapter, instance, request_kwargs, lambda: original)
            else:
                def deferred() -> Any:
                    return run_model_call(telemetry, adapter, instance, request_kwargs, original)
            setattr(manager, name, deferred)
        except Exception as exc:
            report_internal_error("anthropic stream()", exc)
        return manager

    return wrapper


class AnthropicInstrumentor(CotInstrumentor):
    _package = _instruments

    def _targets(self, telemetry: Telemetry) -> list[tuple[str, str, Callable[..., Any]]]:
        from anthropic._streaming import AsyncStream, Stream

        api = ApiAdapter(messages.request, messages.response, messages.MessagesStreamAccumulator,
                         (Stream, AsyncStream))
        sync = model_method_wrapper(telemetry, api, is_async=False)
        async_ = model_method_wrapper(telemetry, api, is_async=True)
        targets: list[tuple[str, str, Callable[..., Any]]] = []
        for module in ("anthropic.resources.messages", "anthropic.resources.beta.messages"):
            for method in ("create", "parse"):
                targets.append((module, f"Messages.{method}", sync))
                targets.append((module, f"AsyncMessages.{method}", async_))
            targets.append((module, "Messages.stream", _stream_method_wrapper(telemetry, api, is_async=False)))
            targets.append((module, "AsyncMessages.stream", _stream_method_wrapper(telemetry, api, is_async=True)))
        targets += [
            ("anthropic._streaming", "Stream.close", close_wrapper),
            ("anthropic._streaming", "AsyncStream.close", async_close_wrapper),
            ("anthropic._base_client", "start_api_call_span", _suppress_sdk_model_span),
        ]
        return targets
