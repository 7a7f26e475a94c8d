"""The SDK's content cleaning (redact, truncate, JSON), in one place for the coding-agent readers.

Issue 14 moves these helpers into :mod:`otel_cot.content` as public functions; until then they are read from
the model-call module, and only from here, so that move is a one-line change.
"""

from otel_cot.instrumentation._model_call import _clean_value as clean_value  # noqa: F401
from otel_cot.instrumentation._model_call import _to_json as to_json  # noqa: F401

__all__ = ["clean_value", "to_json"]
