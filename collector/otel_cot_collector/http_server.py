"""An ASGI app served by uvicorn on the service's event loop (the OTLP/HTTP receiver, the ops endpoints)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from typing import Any, Iterator

import uvicorn


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:  # the service owns signal handling
        yield


class HttpServer:
    def __init__(self, server: _Server, task: asyncio.Task) -> None:
        self._server = server
        self._task = task

    async def stop(self) -> None:
        """Stop accepting, let in-flight requests finish (uvicorn's graceful shutdown), then return."""
        self._server.should_exit = True
        await asyncio.gather(self._task, return_exceptions=True)


async def serve(app: Any, host: str, port: int, cert: str | None = None, key: str | None = None) -> HttpServer:
    """Serve ``app`` on ``host:port`` (TLS with ``cert``/``key``); returns once it listens. The socket is
    bound here, so an address that cannot be used is an OSError naming it (uvicorn would exit the process)."""
    sock = _bind(host, port)
    config = uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False, lifespan="off",
                            ssl_certfile=cert, ssl_keyfile=key, timeout_graceful_shutdown=2,
                            limit_concurrency=1000, h11_max_incomplete_event_size=64 * 1024)
    server = _Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()  # raises (e.g. SystemExit when the port is taken)
            raise OSError(f"HTTP server on {host}:{port} stopped during startup")
        await asyncio.sleep(0.01)
    return HttpServer(server, task)


def _bind(host: str, port: int) -> socket.socket:
    family, kind, proto, _, address = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM,
                                                         flags=socket.AI_PASSIVE)[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise OSError(exc.errno, f"cannot listen on {host}:{port} for HTTP ({exc.strerror})") from None
    sock.set_inheritable(True)
    return sock
