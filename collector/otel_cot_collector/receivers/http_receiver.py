"""OTLP/HTTP receiver (Starlette): protobuf and JSON on one port, gzip with a bomb-safe bound."""

from __future__ import annotations

import zlib

from google.rpc import status_pb2
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from .. import otlp
from .. import ingest
from ..ingest import Ingest

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
_HTTP_STATUS = {ingest.INVALID: 400, ingest.FULL: 503, ingest.UNAVAILABLE: 503, ingest.UNIMPLEMENTED: 404}


class _TooLarge(Exception):
    pass


def _reply(is_json: bool, status: int, message: str | None = None, body: object = None,
           headers: dict[str, str] | None = None) -> Response:
    if body is None:
        body = status_pb2.Status(code={400: 3, 401: 16, 404: 12, 413: 8, 415: 3}.get(status, 14),
                                 message=(message or "")[:1024])
    if is_json:
        content = otlp.to_json(body) if hasattr(body, "SerializeToString") else b"{}"
        return Response(content, status, headers=headers, media_type=JSON)
    return Response(body.SerializeToString(), status, headers=headers, media_type=PROTOBUF)


async def _read_capped(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise _TooLarge
    chunks, total = [], 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > limit:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def _gunzip(data: bytes, limit: int) -> bytes:
    d = zlib.decompressobj(wbits=31)
    out = d.decompress(data, limit + 1)
    if len(out) > limit or d.unconsumed_tail:
        raise _TooLarge
    if not d.eof:
        raise ValueError("truncated gzip body")
    return out


def build_app(ing: Ingest, max_bytes: int, token: str | None) -> Starlette:
    def endpoint(signal: otlp.Signal):
        async def handle(request: Request) -> Response:
            ctype = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
            is_json = ctype == JSON
            if not ing.authorized(token, request.headers.get("authorization")):
                ing.refuse("http", "unauthenticated")
                return _reply(is_json, 401, "missing or wrong bearer token",
                              headers={"WWW-Authenticate": "Bearer"})
            if ctype not in (PROTOBUF, JSON):
                ing.refuse("http", "unsupported_media_type")
                return _reply(False, 415, f"unsupported content type {ctype!r}; use {PROTOBUF} or {JSON}")
            encoding = request.headers.get("content-encoding", "identity").strip().lower()
            if encoding not in ("identity", "gzip", ""):
                ing.refuse("http", "unsupported_encoding")
                return _reply(is_json, 415, f"unsupported content encoding {encoding!r}; use gzip or none")
            try:
                body = await _read_capped(request, max_bytes)
                if encoding == "gzip":
                    body = _gunzip(body, max_bytes)
            except _TooLarge:
                ing.refuse("http", "too_large")
                return _reply(is_json, 413, f"request body exceeds {max_bytes} bytes (after decompression)")
            except (zlib.error, ValueError) as exc:
                ing.refuse("http", "invalid")
                return _reply(is_json, 400, f"invalid gzip body: {exc}")
            except ClientDisconnect:
                return Response(status_code=400)
            outcome = await ing.accept(signal, body, is_json, "http")
            if outcome.status == ingest.OK:
                return _reply(is_json, 200, body=outcome.response)
            headers = {"Retry-After": str(ingest.RETRY_AFTER_S)} if outcome.status in (
                ingest.FULL, ingest.UNAVAILABLE) else None
            return _reply(is_json, _HTTP_STATUS[outcome.status], outcome.message, headers=headers)
        return handle

    routes = [Route(s.http_path, endpoint(s), methods=["POST"]) for s in otlp.SIGNALS.values()]
    return Starlette(routes=routes)
