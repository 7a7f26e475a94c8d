"""Google GenAI instrumentation: ``models.generate_content`` and ``generate_content_stream``, sync and async.

``client.models`` and ``client.aio.models`` (chats go through them too). A streamed call
returns a plain generator in google-genai; the caller gets a generator of ours around it.
One span covers one SDK call, so with automatic function calling the SDK's tool round
trips happen inside it.
"""

from __future__ import annotations

import types
from typing import Any, Callable

from .._base import CotInstrumentor, Telemetry
from .._wrappers import ApiAdapter, model_method_wrapper
from . import generate_content
from .package import _instruments

__all__ = ["GoogleGenAIInstrumentor"]


class GoogleGenAIInstrumentor(CotInstrumentor):
    _package = _instruments

    def _targets(self, telemetry: Telemetry) -> list[tuple[str, str, Callable[..., Any]]]:
        streams = (types.GeneratorType, types.AsyncGeneratorType)
        accumulator = generate_content.GenerateContentStreamAccumulator
        call_api = ApiAdapter(generate_content.request, generate_content.response, accumulator, streams,
                              wrap_streams=True)
        stream_api = ApiAdapter(generate_content.stream_request, generate_content.response, accumulator, streams,
                                wrap_streams=True)
        return [
            ("google.genai.models", "Models.generate_content", model_method_wrapper(telemetry, call_api, False)),
            ("google.genai.models", "AsyncModels.generate_content", model_method_wrapper(telemetry, call_api, True)),
            ("google.genai.models", "Models.generate_content_stream",
             model_method_wrapper(telemetry, stream_api, False)),
            ("google.genai.models", "AsyncModels.generate_content_stream",
             model_method_wrapper(telemetry, stream_api, True)),
        ]
