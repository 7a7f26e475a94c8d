"""Operations endpoints: ``/healthz`` (the process runs), ``/readyz`` (receivers listen, not draining),
``/metrics`` (Prometheus text)."""

from __future__ import annotations

from typing import Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from .telemetry import Metrics


def build_app(metrics: Metrics, ready: Callable[[], tuple[bool, str]]) -> Starlette:
    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        ok, reason = ready()
        return JSONResponse({"status": "ready" if ok else "not ready", "reason": reason}, 200 if ok else 503)

    async def prometheus(request: Request) -> Response:
        return PlainTextResponse(metrics.render(), media_type="text/plain; version=0.0.4")

    return Starlette(routes=[Route("/healthz", healthz), Route("/readyz", readyz), Route("/metrics", prometheus)])
