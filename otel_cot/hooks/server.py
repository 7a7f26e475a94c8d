"""The checker: a per-user process that answers the hook client over a unix socket.

    python -m otel_cot.hooks.server            # started by the first hook call; `otel-cot hooks serve` in the foreground

It keeps what makes a check fast warm: the interpreter with the guard and detectors imported, each policy's
guard, each session's transcript read so far (only what was appended is read at the next call). It listens on
:func:`otel_cot.hooks.client.socket_path` (a directory only the user can enter, the socket itself 0600),
holds ``<socket>.lock`` so that only one runs per socket, and exits after ``OTEL_COT_HOOKS_IDLE_S`` seconds
(default 1800) without a call, on SIGTERM/SIGINT, or when asked (``otel-cot hooks stop``). The next hook call
starts it again.

Its exporter is configured like ``otel_cot.init()``'s, from the ``OTEL_*`` variables of the environment the
first hook call had (the agent's); ``OTEL_COT_HOOKS_DETECT=0`` exports without running the detectors
in-process (when the spans go to the otel-cot collector, which runs them).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socketserver
import sys
import threading
import time
from typing import Any

from . import client
from .service import HookService

try:
    import fcntl
except ImportError:  # pragma: no cover - no unix sockets there either
    fcntl = None  # type: ignore[assignment]

logger = logging.getLogger("otel_cot.hooks")
DEFAULT_IDLE_S = 1800.0
CONTROL = "-"  # the agent field of a control request: `stop`, `status`


class _Handler(socketserver.BaseRequestHandler):
    server: "CheckerServer"

    def handle(self) -> None:
        sock = self.request
        sock.settimeout(30.0)
        try:
            agent, event, policy, payload = _read_request(sock)
        except EOFError:  # connected and closed at once: another checker seeing whether this one runs
            return
        except (OSError, ValueError) as exc:
            logger.warning("otel-cot hooks: bad request: %s", exc)
            return
        self.server.touch(+1)
        try:
            if agent == CONTROL:
                code, out, err = self.server.control(event)
            else:
                code, out, err = self.server.service.handle(agent, event, policy, payload)
            head = b"\t".join((client.MAGIC, str(code).encode(), str(len(out)).encode(), str(len(err)).encode()))
            try:
                sock.sendall(head + b"\n" + out + err)
            except OSError as exc:
                logger.warning("otel-cot hooks: the hook went away before its answer: %s", exc)
        finally:
            self.server.touch(-1)


def _read_request(sock: Any) -> tuple[str, str, str, bytes]:
    data = b""
    while b"\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            if not data:
                raise EOFError
            raise ValueError("the request ended before its header")
        data += chunk
        if len(data) > 1 << 16 and b"\n" not in data:
            raise ValueError("request header too long")
    line, _, body = data.partition(b"\n")
    fields = line.split(b"\t")
    if len(fields) != 5 or fields[0] != client.MAGIC:
        raise ValueError("not an otel-cot hook request")
    length = int(fields[4])
    if length > client.MAX_REQUEST:
        raise ValueError(f"request of {length} bytes")
    while len(body) < length:
        chunk = sock.recv(min(1 << 20, length - len(body)))
        if not chunk:
            raise ValueError("the request was cut")
        body += chunk
    return (fields[1].decode(), fields[2].decode(), fields[3].decode("utf-8", "surrogateescape"), body[:length])


class CheckerServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = False
    block_on_close = True  # server_close waits for the calls being answered
    request_queue_size = 128  # socketserver's 5 is less than the hooks of one parallel batch of tool calls

    def __init__(self, path: str, service: HookService, idle_s: float) -> None:
        self.path = path
        self.service = service
        self.idle_s = idle_s
        self.started = time.time()
        self.requests = 0
        self._last = time.monotonic()
        self._busy = 0  # calls being answered: a checker answering one is not idle, however long it takes
        self._busy_lock = threading.Lock()
        super().__init__(path, _Handler)
        os.chmod(path, 0o600)
        self.socket_inode = os.stat(path).st_ino

    def touch(self, busy: int) -> None:
        """A call starts (``+1``) or ends (``-1``)."""
        with self._busy_lock:
            self._last = time.monotonic()
            self._busy += busy
            if busy > 0:
                self.requests += 1

    def idle_for(self) -> float:
        with self._busy_lock:
            return 0.0 if self._busy else time.monotonic() - self._last

    def stop_serving(self) -> None:
        """Stop: the socket goes first, so that the next hook call starts a new checker (which waits for this
        one's lock) instead of connecting to one that is leaving."""
        try:
            os.unlink(self.path)
        except OSError:
            pass
        threading.Thread(target=self.shutdown, daemon=True).start()

    def control(self, command: str) -> tuple[int, bytes, bytes]:
        if command == "stop":
            self.stop_serving()
            return 0, b"stopping\n", b""
        if command == "status":
            status = {"pid": os.getpid(), "started": self.started, "requests": self.requests,
                      "exports": self.service.exports, "exports_left_to_watch": self.service.exports_left_to_watch}
            return 0, json.dumps(status).encode() + b"\n", b""
        return 2, b"", f"unknown command {command!r}\n".encode()


def _secure_dir(directory: str) -> None:
    os.makedirs(directory, mode=0o700, exist_ok=True)
    st = os.stat(directory)
    if st.st_uid == os.getuid() and st.st_mode & 0o077:
        os.chmod(directory, 0o700)
    problem = client.socket_dir_problem(directory)
    if problem:
        raise SystemExit(f"otel-cot hooks: {problem}; set OTEL_COT_HOOKS_SOCKET")


def build_exporter() -> Any:
    """The checker's exporter: ``otel_cot.init()``'s, from ``OTEL_*``; None when not exporting."""
    from otel_cot._setup import build_exporter as otlp_exporter
    from otel_cot.config import ConfigurationError

    try:
        exporter = otlp_exporter()
    except ConfigurationError as exc:
        logger.error("otel-cot hooks: not exporting: %s", exc)
        return None
    if exporter is not None and os.environ.get("OTEL_COT_HOOKS_DETECT", "1").strip().lower() not in ("0", "false",
                                                                                                       "no"):
        from otel_cot.detectors.exporter import DetectingSpanExporter

        exporter = DetectingSpanExporter(exporter)
    return exporter


def serve(path: str | None = None, idle_s: float | None = None) -> int:
    """Run the checker until idle, signalled or stopped. 0, or 0 at once when another checker holds the lock."""
    path = path or client.socket_path()
    idle_s = float(os.environ.get("OTEL_COT_HOOKS_IDLE_S") or DEFAULT_IDLE_S) if idle_s is None else idle_s
    _secure_dir(os.path.dirname(path))
    lock_fd = _lock(path)
    if lock_fd is None:
        return 0  # another checker serves this socket
    try:
        try:
            os.unlink(path)  # a socket left by a checker that was killed
        except FileNotFoundError:
            pass
        exporter = build_exporter()
        service = HookService(exporter=exporter, export=exporter is not None)
        server = CheckerServer(path, service, idle_s)
        stop = threading.Event()

        def on_signal(_signum: int, _frame: Any) -> None:
            stop.set()
            server.stop_serving()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)

        def watchdog() -> None:
            while not stop.wait(min(5.0, max(0.05, idle_s / 4))):
                if server.idle_for() >= idle_s:
                    logger.info("otel-cot hooks: idle for %.0f s; exiting", idle_s)
                    server.stop_serving()
                    return

        threading.Thread(target=watchdog, name="otel-cot-hooks-idle", daemon=True).start()
        try:
            os.unlink(path + ".failed")  # a start that failed before: hook calls may start checkers again
        except FileNotFoundError:
            pass
        logger.info("otel-cot hooks: checker %d listening on %s", os.getpid(), path)
        try:
            server.serve_forever(poll_interval=0.2)
        finally:
            stop.set()
            try:
                if os.stat(path).st_ino == server.socket_inode:
                    os.unlink(path)
            except OSError:
                pass
            server.server_close()
            service.close()
        return 0
    finally:
        os.close(lock_fd)


def _alive(path: str) -> bool:
    try:
        client.open_connection(path, 0.5).close()
        return True
    except OSError:
        return False


def _lock(path: str, wait_s: float = 10.0) -> int | None:
    """The checker's lock on ``<socket>.lock``, or None when a checker serves the socket. A checker that is
    leaving still holds the lock for a moment after removing its socket: then this waits for it."""
    fd = os.open(path + ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    if fcntl is None:
        return fd
    deadline = time.monotonic() + wait_s
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except OSError:
            if _alive(path) or time.monotonic() > deadline:
                os.close(fd)
                return None
            time.sleep(0.05)


def main() -> int:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s otel-cot checker[%(process)d] %(message)s")
    return serve()


if __name__ == "__main__":
    sys.exit(main())
