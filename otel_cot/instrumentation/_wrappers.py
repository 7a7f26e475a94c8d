"""The wrapt wrappers shared by every provider: one for model methods, one for stream closing.

Every piece of our code runs inside a try block; the only exception that may leave a
wrapper is the SDK's own, unchanged. Streams are the SDK's own objects: we swap the
iterator they read from for a generator that records each chunk, so the type the caller
gets, its helpers and its context-manager behaviour stay exactly the SDK's. Where the SDK
returns a plain generator (google-genai), there is no object to keep: the caller gets a
generator of ours around it, still a generator (or async generator).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, AsyncIterator, Awaitable, Callable, Iterator, Protocol

from opentelemetry import context as otel_context
from opentelemetry.instrumentation.utils import is_instrumentation_enabled

from ..internal_errors import report_internal_error
from ._base import Telemetry
from ._context import detach
from ._model_call import MODEL_CALL_OBSERVER_KEY, ModelCall, ModelRequest, ModelResponse

RECORDER_ATTR = "_otel_cot_recorder"
_time_ns = time.time_ns


class StreamAccumulator(Protocol):
    def add(self, chunk: Any, now_ns: int) -> None: ...

    def result(self) -> ModelResponse: ...


@dataclass(frozen=True)
class ApiAdapter:
    """What a provider module supplies for one API (chat completions, responses, messages)."""

    request: Callable[[Any, dict[str, Any]], ModelRequest]
    response: Callable[[Any], ModelResponse | None]
    """The response of a non-streamed call, or None for a result we do not read (raw responses)."""
    accumulator: Callable[[], StreamAccumulator]
    stream_types: tuple[type, ...]
    wrap_streams: bool = False
    """The SDK streams through a plain generator (google-genai): the caller gets ours around it."""

    def is_stream(self, result: Any) -> bool:
        return isinstance(result, self.stream_types)


class StreamRecorder:
    """Feeds a stream's chunks to an accumulator and ends the call's span once.

    The recording generators below do the per-chunk work inline (a Python call per chunk less): the
    accumulator's ``add`` with the time, ``first_chunk`` on the first; after our code fails on a chunk,
    ``broken`` and no more chunks (the caller's stream goes on, and the span ends without a response).
    """

    __slots__ = ("call", "accumulator", "_broken")

    def __init__(self, call: ModelCall, accumulator: StreamAccumulator) -> None:
        self.call = call
        self.accumulator = accumulator
        self._broken = False

    def broken(self, exc: Exception) -> None:
        self._broken = True
        report_internal_error("stream chunk", exc)

    def finish(self, outcome: str, error: BaseException | None = None) -> None:
        if self.call.ended:
            return
        response = None
        if not self._broken:
            try:
                response = self.accumulator.result()
            except Exception as exc:
                report_internal_error("stream result", exc)
        try:
            self.call.finish(response, outcome=outcome, error=error)
        except Exception as exc:
            report_internal_error("stream finish", exc)


def _recorded(iterator: Iterator[Any], recorder: StreamRecorder) -> Iterator[Any]:
    add: Any = recorder.accumulator.add
    first = True
    try:
        for item in iterator:
            if add is not None:
                try:
                    now = _time_ns()
                    if first:
                        first = False
                        recorder.call.first_chunk(now)
                    add(item, now)
                except Exception as exc:
                    add = None
                    recorder.broken(exc)
            yield item
    except GeneratorExit:
        recorder.finish("abandoned")
        raise
    except BaseException as exc:
        recorder.finish("error", exc)
        raise
    recorder.finish("complete")


async def _recorded_async(iterator: AsyncIterator[Any], recorder: StreamRecorder) -> AsyncIterator[Any]:
    add: Any = recorder.accumulator.add
    first = True
    try:
        async for item in iterator:
            if add is not None:
                try:
                    now = _time_ns()
                    if first:
                        first = False
                        recorder.call.first_chunk(now)
                    add(item, now)
                except Exception as exc:
                    add = None
                    recorder.broken(exc)
            yield item
    except GeneratorExit:
        recorder.finish("abandoned")
        raise
    except BaseException as exc:
        recorder.finish("error", exc)
        raise
    recorder.finish("complete")


def recorded_iterator(iterator: Any, recorder: StreamRecorder) -> Iterator[Any] | AsyncIterator[Any]:
    """A generator (async for an async iterator) that yields ``iterator``'s items, recording each."""
    if hasattr(iterator, "__anext__"):
        return _recorded_async(iterator, recorder)
    return _recorded(iterator, recorder)


def _record_stream(stream: Any, recorder: StreamRecorder) -> None:
    stream._iterator = recorded_iterator(stream._iterator, recorder)
    setattr(stream, RECORDER_ATTR, recorder)


def _start(telemetry: Telemetry, adapter: ApiAdapter, instance: Any, kwargs: dict[str, Any]) -> ModelCall | None:
    """The call's span, or None for a call made under ``suppress_instrumentation()`` (e.g. the monitor's
    judge, which must not be traced or judged)."""
    if not is_instrumentation_enabled():
        return None
    try:
        return ModelCall(telemetry.tracer, telemetry.settings, adapter.request(instance, kwargs))
    except Exception as exc:
        report_internal_error("model call start", exc)
        return None


def _failed(call: ModelCall, exc: BaseException) -> None:
    try:
        call.fail(exc)
    except Exception as inner:
        report_internal_error("model call fail", inner)


def _raw_parsed(result: Any) -> Any:
    """What ``.with_raw_response`` calls return (openai ``LegacyAPIResponse``, anthropic ``APIResponse``), parsed.

    The body has been read already and the SDK caches the parse, so the caller's own
    ``.parse()`` gets the same object (a stream included, recorded by us). Responses whose
    body is still unread (``with_streaming_response``) are left alone.
    """
    kind = type(result).__name__
    if kind == "LegacyAPIResponse":
        return result.parse()
    if kind == "APIResponse":  # anthropic: the same class serves with_streaming_response, told apart by header
        request = getattr(result, "http_request", None)
        if request is not None and request.headers.get("x-stainless-raw-response") == "raw":
            return result.parse()
    return None


def _returned(adapter: ApiAdapter, call: ModelCall, result: Any) -> Any:
    try:
        parsed = _raw_parsed(result)
        if parsed is not None:
            _returned(adapter, call, parsed)
            return result
        if adapter.is_stream(result):
            recorder = StreamRecorder(call, adapter.accumulator())
            if adapter.wrap_streams:
                return recorded_iterator(result, recorder)
            _record_stream(result, recorder)
        else:
            response = adapter.response(result)
            if response is None and otel_context.get_value(MODEL_CALL_OBSERVER_KEY) is not None:
                return result  # a raw response we do not read: the observing integration finishes the call
            call.finish(response)
    except Exception as exc:
        report_internal_error("model call result", exc)
        try:
            if not call.ended:
                call.finish(None)
        except Exception as inner:
            report_internal_error("model call finish", inner)
    return result


def _activate(call: ModelCall) -> object | None:
    try:
        return call.activate()
    except Exception as exc:
        report_internal_error("model call activate", exc)
        return None


def run_model_call(telemetry: Telemetry, adapter: ApiAdapter, instance: Any, kwargs: dict[str, Any],
                   invoke: Callable[[], Any]) -> Any:
    """Run ``invoke`` (the SDK's own request) inside a model-call span."""
    call = _start(telemetry, adapter, instance, kwargs)
    if call is None:
        return invoke()
    token = _activate(call)
    try:
        result = invoke()
    except BaseException as exc:
        detach(token)
        _failed(call, exc)
        raise
    detach(token)
    return _returned(adapter, call, result)


async def run_model_call_async(telemetry: Telemetry, adapter: ApiAdapter, instance: Any, kwargs: dict[str, Any],
                               invoke: Callable[[], Awaitable[Any]]) -> Any:
    call = _start(telemetry, adapter, instance, kwargs)
    if call is None:
        return await invoke()
    token = _activate(call)
    try:
        result = await invoke()
    except BaseException as exc:
        detach(token)
        _failed(call, exc)
        raise
    detach(token)
    return _returned(adapter, call, result)


def model_method_wrapper(telemetry: Telemetry, adapter: ApiAdapter, is_async: bool) -> Callable[..., Any]:
    """A wrapt wrapper for an SDK method that makes one model call."""
    if is_async:

        async def async_wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict) -> Any:
            return await run_model_call_async(telemetry, adapter, instance, kwargs, lambda: wrapped(*args, **kwargs))

        return async_wrapper

    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict) -> Any:
        return run_model_call(telemetry, adapter, instance, kwargs, lambda: wrapped(*args, **kwargs))

    return wrapper


def _recorder_of(instance: Any) -> StreamRecorder | None:
    recorder = getattr(instance, RECORDER_ATTR, None)
    if recorder is None:  # a helper stream (ChatCompletionStream, ResponseStream) around ours
        recorder = getattr(getattr(instance, "_raw_stream", None), RECORDER_ATTR, None)
    return recorder if isinstance(recorder, StreamRecorder) else None


def _closed(instance: Any) -> None:
    try:
        recorder = _recorder_of(instance)
        if recorder is not None:
            recorder.finish("closed")
    except Exception as exc:
        report_internal_error("stream close", exc)


def close_wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict) -> Any:
    """Ends the span of a stream the caller closed before reading it to the end."""
    try:
        return wrapped(*args, **kwargs)
    finally:
        _closed(instance)


async def async_close_wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict) -> Any:
    try:
        return await wrapped(*args, **kwargs)
    finally:
        _closed(instance)
