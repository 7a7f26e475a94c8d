"""The durable queue: SQLite in WAL mode with ``synchronous=FULL`` (every commit is fsync'd).

Two tables. ``inbox`` holds requests exactly as accepted (a receiver acknowledges only after its row is
committed); the pipeline turns inbox rows into ``outbox`` rows (one per exporter) and deletes the inbox
rows in the same transaction; an exporter deletes its outbox rows only after the backend accepted them.
A crash at any point leaves every acknowledged item in one of the two tables, so it is re-processed or
re-sent on restart: delivery is at-least-once.

Receivers' writes go through one writer thread that commits whatever is waiting in one transaction
(group commit), so concurrent requests share an fsync.

What was just written is also handed on in memory, bounded, so it is not read back from the file: the
request a receiver decoded goes to the pipeline with its inbox row and the bytes it was queued as
(``DECODED_BYTES``; the pipeline then reads no blob, :meth:`Store.take_inbox`), and an outbox row's data to its exporter (``OUTBOX_MEMORY_BYTES``). The
rows in the file stay the durable copy; after a restart, or past a bound, they are read from it.

A new queue file gets 64 KiB pages (``PAGE_SIZE``): a queued request is a blob of hundreds of KiB, which
SQLite reads and writes a page per system call, so 4 KiB pages meant ~16x the calls for the same bytes
(docs/performance.md). The write-ahead log is checkpointed every ``CHECKPOINT_BYTES`` of pages, as with the
default 1,000 pages of 4 KiB. Neither setting changes what a commit guarantees. A queue file made with
another page size keeps it (SQLite fixes it when the file is created).
"""

from __future__ import annotations

import os
import queue
import sqlite3
import threading
from concurrent.futures import Future
from typing import Iterable, Sequence

SCHEMA = """
CREATE TABLE IF NOT EXISTS inbox (id INTEGER PRIMARY KEY AUTOINCREMENT, signal INTEGER NOT NULL, data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, exporter TEXT NOT NULL,
                                   signal INTEGER NOT NULL, data BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS outbox_by_exporter ON outbox (exporter, id);
"""


PAGE_SIZE = 65536  # SQLite's largest
CHECKPOINT_BYTES = 4 * 1024 * 1024
DECODED_BYTES = 16 * 1024 * 1024  # requests (as queued bytes) whose decoded form is kept for the pipeline;
# decoded, a request takes ~2.7 times its bytes in memory (upb), plus the bytes: at most ~60 MiB
OUTBOX_MEMORY_BYTES = 16 * 1024 * 1024  # outbox rows also kept in memory for the exporters, not read back


class QueueFull(Exception):
    """The queue is at its bytes limit; the caller should answer with a retryable status."""


class Store:
    """``max_bytes`` bounds the payload bytes in both tables together (checked when a receiver admits
    a request; the pipeline and exporters never block on it, so the queue always drains)."""

    def __init__(self, directory: str, max_bytes: int) -> None:
        os.makedirs(directory, exist_ok=True)
        self.path = os.path.join(directory, "queue.sqlite3")
        self.max_bytes = max_bytes
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute(f"PRAGMA page_size={PAGE_SIZE}")  # takes effect only while the file is new
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        page_size = int(self._db.execute("PRAGMA page_size").fetchone()[0])
        self._db.execute(f"PRAGMA wal_autocheckpoint={max(1, CHECKPOINT_BYTES // page_size)}")
        self._db.executescript(SCHEMA)
        self._lock = threading.Lock()
        self._bytes_lock = threading.Lock()
        self._decoded: dict[int, tuple[object, bytes]] = {}  # inbox id -> (decoded request, its bytes)
        self._decoded_bytes = 0
        self._outbox_memory: dict[int, bytes] = {}  # outbox id -> its data, as written (see read_outbox)
        self._outbox_memory_bytes = 0
        self.bytes = self._scalar("SELECT COALESCE(SUM(LENGTH(data)), 0) FROM inbox") + \
            self._scalar("SELECT COALESCE(SUM(LENGTH(data)), 0) FROM outbox")
        self.inbox_event = threading.Event()
        self.outbox_event = threading.Event()
        self._pending: queue.Queue = queue.Queue()
        self._writer = threading.Thread(target=self._write_loop, name="queue-writer", daemon=True)
        self._closed = False
        self._writer.start()

    def _scalar(self, sql: str, *args: object) -> int:
        with self._lock:
            return int(self._db.execute(sql, args).fetchone()[0])

    # --- receivers --------------------------------------------------------------------------------
    def append(self, signal: int, data: bytes, decoded: object = None) -> "Future[int]":
        """Queue ``data`` durably; the future resolves once it is committed. Raises QueueFull.

        ``decoded``: the request ``data`` serializes, as the receiver decoded it (the pipeline exports
        its unchanged spans in ``data``'s bytes, so it must be the request ``data`` parses to); handed to
        the pipeline with the row and ``data`` (:meth:`take_inbox`), in memory only, so the pipeline need
        not decode ``data`` again. The caller must not touch it afterwards. Kept for at most ``DECODED_BYTES`` of requests."""
        with self._bytes_lock:
            if self.bytes + len(data) > self.max_bytes:
                raise QueueFull(f"queue holds {self.bytes} bytes (limit {self.max_bytes})")
            self.bytes += len(data)
        fut: Future[int] = Future()
        self._pending.put((signal, data, fut, decoded))
        return fut

    def _write_loop(self) -> None:
        while True:
            first = self._pending.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < 512:
                try:
                    item = self._pending.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self._pending.put(None)
                    break
                batch.append(item)
            try:
                with self._lock:
                    self._db.execute("BEGIN IMMEDIATE")
                    ids = [self._db.execute("INSERT INTO inbox (signal, data) VALUES (?, ?)",
                                            (sig, data)).lastrowid for sig, data, _, _ in batch]
                    self._db.execute("COMMIT")
                    self._keep_decoded(batch, ids)  # under the lock: in place before the rows can be read
            except Exception as exc:  # disk full, I/O error: refuse these requests, keep serving
                self._rollback()
                self._release(sum(len(d) for _, d, _, _ in batch))
                for _, _, fut, _ in batch:
                    fut.set_exception(exc)
                continue
            self.inbox_event.set()
            for (_, _, fut, _), row_id in zip(batch, ids):
                fut.set_result(row_id)

    def _keep_decoded(self, batch: list, ids: list[int]) -> None:
        for (_, data, _, decoded), row_id in zip(batch, ids):
            if decoded is not None and self._decoded_bytes + len(data) <= DECODED_BYTES:
                self._decoded[row_id] = (decoded, data)
                self._decoded_bytes += len(data)

    def _rollback(self) -> None:
        with self._lock:
            try:
                self._db.execute("ROLLBACK")
            except sqlite3.Error:
                pass

    def _release(self, n: int) -> None:
        with self._bytes_lock:
            self.bytes -= n

    # --- pipeline ---------------------------------------------------------------------------------
    def take_decoded(self, row_id: int) -> object:
        """The decoded request the receiver handed over with inbox row ``row_id`` (see :meth:`append`), or
        None (none was given, the memory bound was reached, or the queue was reopened since)."""
        with self._lock:
            return self._pop_decoded(row_id)[0]

    def _pop_decoded(self, row_id: int) -> tuple[object, bytes | None]:
        entry = self._decoded.pop(row_id, None)  # under the lock
        if entry is None:
            return None, None
        self._decoded_bytes -= len(entry[1])
        return entry

    def read_inbox(self, after_id: int, limit: int) -> list[tuple[int, int, bytes]]:
        with self._lock:
            return self._db.execute("SELECT id, signal, data FROM inbox WHERE id > ? ORDER BY id LIMIT ?",
                                    (after_id, limit)).fetchall()

    def take_inbox(self, after_id: int, limit: int) -> list[tuple[int, int, object, bytes | None]]:
        """``(id, signal, decoded, data)`` of the oldest inbox rows after ``after_id``: ``decoded`` as
        :meth:`take_decoded` gives it (handed over once, or None) and ``data`` the bytes queued with it
        (the same object, not read back; None with no ``decoded``). The rows' bytes are not read from the
        queue here: a request processed from its decoded form needs no copy of its blob; read them with
        :meth:`inbox_data` where they are needed."""
        with self._lock:
            heads = self._db.execute("SELECT id, signal FROM inbox WHERE id > ? ORDER BY id LIMIT ?",
                                     (after_id, limit)).fetchall()
            return [(row_id, signal, *self._pop_decoded(row_id)) for row_id, signal in heads]

    def inbox_data(self, row_id: int) -> bytes:
        """The bytes of inbox row ``row_id`` (KeyError when there is no such row)."""
        with self._lock:
            row = self._db.execute("SELECT data FROM inbox WHERE id = ?", (row_id,)).fetchone()
        if row is None:
            raise KeyError(row_id)
        return row[0]

    def move(self, done_inbox: Iterable[int], rows: Sequence[tuple[str, int, bytes]]) -> None:
        """In one transaction: add outbox ``rows`` (exporter, signal, data), delete ``done_inbox``."""
        done = list(done_inbox)
        if not done and not rows:
            return
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                freed = 0
                for row_id in done:
                    r = self._db.execute("SELECT LENGTH(data) FROM inbox WHERE id = ?", (row_id,)).fetchone()
                    if r:
                        freed += r[0]
                        self._db.execute("DELETE FROM inbox WHERE id = ?", (row_id,))
                ids = [self._db.execute("INSERT INTO outbox (exporter, signal, data) VALUES (?, ?, ?)",
                                        row).lastrowid for row in rows]
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._remember_outbox(ids, rows)
        with self._bytes_lock:
            self.bytes += sum(len(r[2]) for r in rows) - freed
        if rows:
            self.outbox_event.set()

    def add_outbox(self, rows: Sequence[tuple[str, int, bytes]]) -> None:
        self.move((), rows)

    def _remember_outbox(self, ids: list[int], rows: Sequence[tuple[str, int, bytes]]) -> None:
        """Keep committed outbox rows' data in memory (under the lock) for :meth:`read_outbox`, up to
        ``OUTBOX_MEMORY_BYTES``; past that, rows are read back from the file."""
        for row_id, (_, _, data) in zip(ids, rows):
            if self._outbox_memory_bytes + len(data) > OUTBOX_MEMORY_BYTES:
                return
            self._outbox_memory[row_id] = data
            self._outbox_memory_bytes += len(data)

    # --- exporters --------------------------------------------------------------------------------
    def read_outbox(self, exporter: str, after_id: int, limit: int, max_bytes: int) -> list[tuple[int, int, bytes]]:
        """Oldest rows for ``exporter`` after ``after_id``: same signal, at most ``max_bytes`` together
        (always at least one row)."""
        with self._lock:
            heads = self._db.execute("SELECT id, signal, LENGTH(data) FROM outbox WHERE exporter = ? AND id > ? "
                                     "ORDER BY id LIMIT ?", (exporter, after_id, limit)).fetchall()
            out: list[tuple[int, int, bytes]] = []
            total = 0
            memory = self._outbox_memory
            for row_id, signal, length in heads:
                if out and (signal != out[0][1] or total + length > max_bytes):
                    break
                data = memory.get(row_id)
                if data is None:  # written before this start, or past the memory bound
                    data = self._db.execute("SELECT data FROM outbox WHERE id = ?", (row_id,)).fetchone()[0]
                out.append((row_id, signal, data))
                total += length
            return out

    def delete_outbox(self, rows: Sequence[tuple[int, int, bytes]]) -> None:
        if not rows:
            return
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany("DELETE FROM outbox WHERE id = ?", [(r[0],) for r in rows])
            self._db.execute("COMMIT")
            for r in rows:
                if self._outbox_memory.pop(r[0], None) is not None:
                    self._outbox_memory_bytes -= len(r[2])
        self._release(sum(len(r[2]) for r in rows))

    def counts(self) -> tuple[int, int]:
        return (self._scalar("SELECT COUNT(*) FROM inbox"), self._scalar("SELECT COUNT(*) FROM outbox"))

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._pending.put(None)
        self._writer.join(timeout=5)
        with self._lock:
            self._db.close()
