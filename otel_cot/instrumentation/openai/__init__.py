"""OpenAI instrumentation: Chat Completions and Responses, sync and async, streams and helpers.

Also covers OpenAI-compatible servers reached through the ``openai`` SDK (DeepSeek, Groq,
OpenRouter, vLLM, Ollama...), whose reasoning fields the chat extractor reads.
"""

from __future__ import annotations

from typing import Any, Callable

from .._base import CotInstrumentor, Telemetry
from .._wrappers import ApiAdapter, async_close_wrapper, close_wrapper, model_method_wrapper
from . import chat, responses
from .package import _instruments

__all__ = ["OpenAIInstrumentor"]


class OpenAIInstrumentor(CotInstrumentor):
    _package = _instruments

    def _targets(self, telemetry: Telemetry) -> list[tuple[str, str, Callable[..., Any]]]:
        from openai._streaming import AsyncStream, Stream

        streams = (Stream, AsyncStream)
        chat_api = ApiAdapter(chat.request, chat.response, chat.ChatStreamAccumulator, streams)
        responses_api = ApiAdapter(responses.request, responses.response, responses.ResponsesStreamAccumulator,
                                   streams)
        targets: list[tuple[str, str, Callable[..., Any]]] = []
        for module, cls, api in (
            ("openai.resources.chat.completions", "Completions", chat_api),
            ("openai.resources.responses", "Responses", responses_api),
        ):
            sync = model_method_wrapper(telemetry, api, is_async=False)
            async_ = model_method_wrapper(telemetry, api, is_async=True)
            # .stream() helpers call create(); parse() posts directly, so it is wrapped too.
            for method in ("create", "parse"):
                targets.append((module, f"{cls}.{method}", sync))
                targets.append((module, f"Async{cls}.{method}", async_))
        targets += [
            ("openai._streaming", "Stream.close", close_wrapper),
            ("openai._streaming", "AsyncStream.close", async_close_wrapper),
            # Helper streams close the HTTP response, not the raw stream we record.
            ("openai.lib.streaming.chat._completions", "ChatCompletionStream.close", close_wrapper),
            ("openai.lib.streaming.chat._completions", "AsyncChatCompletionStream.close", async_close_wrapper),
            ("openai.lib.streaming.responses._responses", "ResponseStream.close", close_wrapper),
            ("openai.lib.streaming.responses._responses", "AsyncResponseStream.close", async_close_wrapper),
        ]
        return targets
