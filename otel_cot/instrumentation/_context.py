"""Running a piece of user or SDK code inside one of our spans: attach, run, detach, end — once each.

Only the code's own exception leaves these helpers, unchanged; ours are reported.
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable

from opentelemetry import context as otel_context

from ..internal_errors import report_internal_error

End = Callable[[Any, "BaseException | None"], None]
"""``end(result, error)``: ends the span with what the code returned or raised."""


def detach(token: object | None, where: str = "context detach") -> None:
    if token is not None:
        try:
            otel_context.detach(token)  # type: ignore[arg-type]
        except Exception as exc:
            report_internal_error(where, exc)


def traced(invoke: Callable[[], Any], token: object | None, end: End) -> Any:
    """Run ``invoke`` with our context attached (``token``), then detach and ``end`` the span."""
    try:
        result = invoke()
    except BaseException as exc:
        detach(token)
        end(None, exc)
        raise
    detach(token)
    end(result, None)
    return result


async def traced_async(invoke: Callable[[], Awaitable[Any]], token: object | None, end: End) -> Any:
    try:
        result = await invoke()
    except BaseException as exc:
        detach(token)
        end(None, exc)
        raise
    detach(token)
    end(result, None)
    return result
