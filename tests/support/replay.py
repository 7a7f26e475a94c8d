"""A loopback HTTP server that answers SDK requests with recorded provider responses."""

from __future__ import annotations

import json
from collections import deque
from typing import Any

from otel_cot.demo.loopback import LoopbackServer, QuietHandler


class ReplayServer:
    """Serves queued fixtures in order (the last one repeats); records each request body."""

    def __init__(self) -> None:
        self._queue: deque[dict[str, Any]] = deque()
        self._last: dict[str, Any] | None = None
        self.requests: list[dict[str, Any]] = []
        server = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                body = self.body()
                server.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                response = server._next()
                payload = response["sse"] if response.get("sse") is not None else json.dumps(response["body"])
                data = payload.encode()
                self.send_response(response["status"])
                for key, value in response.get("headers", {}).items():
                    if key.lower() not in ("content-length", "content-encoding", "transfer-encoding"):
                        self.send_header(key, value)
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                chunk = response.get("chunk_size")
                if chunk:
                    for i in range(0, len(data), chunk):
                        self.wfile.write(data[i:i + chunk])
                        self.wfile.flush()
                else:
                    self.wfile.write(data)

            do_GET = do_POST

        self._server = LoopbackServer(Handler)

    @property
    def url(self) -> str:
        return self._server.url

    def serve(self, *responses: dict[str, Any]) -> None:
        """Queue fixture responses (the ``response`` object of a fixture file)."""
        self._queue.clear()
        self._queue.extend(responses)
        self._last = None
        self.requests.clear()

    def _next(self) -> dict[str, Any]:
        if self._queue:
            self._last = self._queue.popleft()
        if self._last is None:
            return {"status": 500, "headers": {"content-type": "application/json"},
                    "body": {"error": {"message": "no fixture queued"}}, "sse": None}
        return self._last

    def close(self) -> None:
        self._server.close()
