"""What would stop the collector from starting, checked before anything starts (and by ``--validate``):

- every address it will listen on (each receiver's ``listens`` and the ops endpoint): not listed twice,
  not in use by another program, an address of this machine, allowed for this user;
- the queue directory: a writable directory (or one that can be created), and an existing queue file is
  a SQLite database;
- each component's own ``check`` (the files it will load: TLS certificates and keys, CA bundles, the
  detectors' config).

The check and the start are not atomic: an address taken in between still fails the start, which the
service reports in one line too.
"""

from __future__ import annotations

import errno
import os
import socket
import sqlite3
from pathlib import Path
from typing import Any

WILDCARDS = ("", "0.0.0.0", "::")
_SECTIONS = (("receiver", "receivers"), ("processor", "processors"), ("exporter", "exporters"))


def addresses(cfg: Any) -> list[tuple[str, str, int]]:
    """``(key path, host, port)`` of every address the collector will listen on."""
    registry = cfg.components()
    out = []
    for name, config in cfg.receivers.items():
        factory = registry.factory("receiver", name)
        if factory is not None and factory.listens is not None:
            out.extend((f"receivers.{name}.{key}", host, port) for key, host, port in factory.listens(config))
    out.append(("service.telemetry.endpoint", cfg.telemetry.host, cfg.telemetry.port))
    return out


def problems(cfg: Any) -> list[str]:
    """Every problem found, each one line starting with the config key it is about."""
    found = _address_problems(addresses(cfg))
    found += _queue_problems(cfg.queue.directory)
    registry = cfg.components()
    for kind, section in _SECTIONS:
        for name, config in getattr(cfg, section).items():
            factory = registry.factory(kind, name)
            if factory is not None and factory.check is not None:
                found.extend(factory.check(config, f"{section}.{name}"))
    return found


def _address_problems(listed: list[tuple[str, str, int]]) -> list[str]:
    out: list[str] = []
    seen: list[tuple[str, str, int]] = []
    for path, host, port in listed:
        if port == 0:  # any free port: nothing to check
            continue
        clash = next(((p, h) for p, h, q in seen
                      if q == port and (h == host or h in WILDCARDS or host in WILDCARDS)), None)
        if clash is not None:
            out.append(f"{path}: {host}:{port} is also {clash[0]} ({clash[1]}:{port})")
            continue
        seen.append((path, host, port))
        problem = bind_problem(host, port)
        if problem:
            out.append(f"{path}: {problem}")
    return out


def bind_problem(host: str, port: int) -> str | None:
    """Why a server could not listen on ``host:port`` now, or None (binds a socket and closes it)."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM,
                                                             flags=socket.AI_PASSIVE)[0]
    except socket.gaierror as exc:
        return f"cannot resolve {host!r} ({exc.strerror})"
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers do
        try:
            sock.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return f"{host}:{port} is already in use (another program listens there)"
            if exc.errno == errno.EADDRNOTAVAIL:
                return f"cannot listen on {host}:{port}: not an address of this machine"
            if exc.errno == errno.EACCES:
                return f"cannot listen on {host}:{port}: permission denied (ports below 1024 need privileges)"
            return f"cannot listen on {host}:{port} ({exc.strerror})"
    return None


def _queue_problems(directory: str) -> list[str]:
    where = "queue.directory"
    if not os.path.exists(directory):
        parent = Path(directory).parent
        while not parent.exists():
            parent = parent.parent
        if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
            return [f"{where}: cannot create {directory} ({parent} is not a writable directory)"]
        return []
    if not os.path.isdir(directory):
        return [f"{where}: {directory} is not a directory"]
    if not os.access(directory, os.W_OK | os.X_OK):
        return [f"{where}: {directory} is not writable"]
    db = Path(directory) / "queue.sqlite3"
    if db.exists():
        try:
            con = sqlite3.connect(db.as_uri() + "?mode=ro", uri=True)
            try:
                con.execute("SELECT name FROM sqlite_master").fetchall()
            finally:
                con.close()
        except sqlite3.Error as exc:
            return [f"{where}: {db} is not an otel-cot queue ({exc})"]
    return []


def one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
