"""A loopback HTTP server on a free port, served from a daemon thread: what the demo's stand-ins (the model
provider it replays, the OTLP receiver at the end of its chain) are built on, and the test suite's too."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterable

HOST = "127.0.0.1"


class QuietHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 keep-alive, no access log; ``body()`` reads the request body, ``answer()`` sends a whole one."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        pass

    def body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("content-length") or 0))

    def answer(self, status: int, payload: bytes, content_type: str,
               headers: Iterable[tuple[str, str]] = ()) -> None:
        self.send_response(status)
        for key, value in headers:
            self.send_header(key, value)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that hangs up early (a stream it stopped reading, a timeout) resets on purpose


class LoopbackServer:
    """Serves ``handler`` on ``127.0.0.1`` and a free port until ``close()``."""

    def __init__(self, handler: type[BaseHTTPRequestHandler], name: str | None = None) -> None:
        self._httpd = _QuietServer((HOST, 0), handler)
        threading.Thread(target=self._httpd.serve_forever, name=name, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self._httpd.server_address[1]}"

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
