"""What the MCP client and server sides share: ``_meta`` trace context, field access across SDK majors,
and folding the SDK's own per-call span (mcp 2.x) into ours."""

from __future__ import annotations

import contextlib
from typing import Any, Callable, Mapping

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.context import Context

from ... import semconv as sc
from ...internal_errors import report_internal_error

TOOL_TYPE = "mcp"
TOOLS_CALL = "tools/call"


def field(obj: Any, *names: str) -> Any:
    """The first of ``names`` on a pydantic model (mcp 2 snake_case, mcp 1 camelCase) or a raw dict."""
    for name in names:
        if isinstance(obj, Mapping):
            if name in obj:
                return obj[name]
        elif hasattr(obj, name):
            return getattr(obj, name)
    return None


def meta_dict(meta: Any) -> dict[str, Any]:
    if meta is None:
        return {}
    if isinstance(meta, Mapping):
        return dict(meta)
    dump = getattr(meta, "model_dump", None)  # mcp 1.x: a pydantic RequestParams.Meta
    return dict(dump(by_alias=True, exclude_none=True)) if callable(dump) else {}


def with_trace_context(meta: Any, context: Context) -> dict[str, Any]:
    """The caller's ``_meta`` with ``traceparent`` / ``tracestate`` for ``context`` added."""
    merged = meta_dict(meta)
    carrier: dict[str, str] = {}
    propagate.inject(carrier, context=context)
    merged.update(carrier)
    return merged


def parent_from(meta: Any) -> Context | None:
    """The remote parent a request's ``_meta`` names, or None (then the ambient context is the parent)."""
    carrier = {key: value for key, value in meta_dict(meta).items() if isinstance(value, str)}
    if "traceparent" not in carrier:
        return None
    context = propagate.extract(carrier, context=Context())
    return context if trace.get_current_span(context).get_span_context().is_valid else None


def absorb_sdk_span(key: str) -> Callable[..., Any]:
    """A wrapper for mcp 2.x's ``otel_span``: inside a tools/call we trace, its span is ours.

    mcp 2.x opens its own span per request (``MCP send tools/call x`` on the client, ``tools/call x``
    on the server). Our ``execute_tool`` span is that call's span on each side, so the SDK's attributes
    go onto ours and no second span is made; the SDK's trace-context injection then runs with our span
    current, so the server's span is the child of the client's.
    """

    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict) -> Any:
        try:
            ours = otel_context.get_value(key)
            attributes = kwargs.get("attributes") or {}
            if ours is not None and attributes.get(sc.MCP_METHOD_NAME) == TOOLS_CALL:
                span = ours.span  # type: ignore[attr-defined]
                span.set_attributes({k: v for k, v in attributes.items() if not k.startswith("gen_ai.")})
                return contextlib.nullcontext(span)
        except Exception as exc:
            report_internal_error("mcp sdk span", exc)
        return wrapped(*args, **kwargs)

    return wrapper
