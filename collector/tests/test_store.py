"""The durable queue (Store) in process: inbox and outbox, the move transaction, the bytes limit, and what a
reopened queue (after a crash) still holds."""

from __future__ import annotations

import sqlite3

import pytest

import otel_cot_collector.store as store_module
from otel_cot_collector.store import CHECKPOINT_BYTES, PAGE_SIZE, SCHEMA, QueueFull, Store

TRACES, LOGS = 1, 2


@pytest.fixture
def store(tmp_path):
    s = Store(str(tmp_path / "q"), 1000)
    yield s
    s.close()


def add(store: Store, data: bytes, signal: int = TRACES) -> int:
    return store.append(signal, data).result(timeout=10)


def test_appended_requests_are_read_in_order_after_a_cursor(store):
    ids = [add(store, bytes([n]) * 10) for n in range(3)]
    assert [row for row, _, _ in store.read_inbox(0, 10)] == ids
    assert store.read_inbox(ids[0], 1) == [(ids[1], TRACES, bytes([1]) * 10)]
    assert store.bytes == 30 and store.inbox_event.is_set()


def test_over_the_bytes_limit_new_requests_are_refused(store):
    add(store, b"x" * 900)
    with pytest.raises(QueueFull, match="limit 1000"):
        store.append(TRACES, b"y" * 101)
    add(store, b"y" * 100)  # exactly at the limit is fine
    assert store.bytes == 1000


def test_move_writes_outbox_rows_and_deletes_inbox_rows_together(store):
    row = add(store, b"in" * 10)
    store.move([row], [("a", TRACES, b"out-a"), ("b", TRACES, b"out-b")])
    assert store.counts() == (0, 2) and store.bytes == 10
    with pytest.raises(Exception):
        store.move([], [("a", TRACES, object())])  # type: ignore[list-item]  # cannot be stored
    assert store.counts() == (0, 2)
    second = add(store, b"again")
    with pytest.raises(Exception):
        store.move([second], [("a", TRACES, b"fine"), ("a", TRACES, object())])  # type: ignore[list-item]
    assert store.counts() == (1, 2)  # rolled back: the inbox row is still there, no outbox row was added


def test_an_exporter_reads_its_own_rows_one_signal_at_a_time_within_its_batch_bytes(store):
    store.add_outbox([("a", TRACES, b"1" * 10), ("b", TRACES, b"x"), ("a", TRACES, b"2" * 10),
                      ("a", LOGS, b"3" * 10), ("a", LOGS, b"4" * 10)])
    first = store.read_outbox("a", 0, 100, 15)
    assert [data for _, _, data in first] == [b"1" * 10]  # a second row would pass 15 bytes
    assert [data for _, _, data in store.read_outbox("a", 0, 100, 1000)] == [b"1" * 10, b"2" * 10]
    logs = store.read_outbox("a", first[0][0] + 2, 100, 1000)
    assert [(code, data) for _, code, data in logs] == [(LOGS, b"3" * 10), (LOGS, b"4" * 10)]
    assert [data for _, _, data in store.read_outbox("a", 0, 100, 1)] == [b"1" * 10]  # always one row
    before = store.bytes
    store.delete_outbox(first)
    assert store.bytes == before - 10 and store.counts() == (0, 4)


def test_a_reopened_queue_holds_everything_that_was_not_moved_or_sent(tmp_path):
    directory = str(tmp_path / "q")
    s = Store(directory, 1000)
    kept = add(s, b"held" * 5)
    done = add(s, b"done" * 5)
    s.move([done], [("a", TRACES, b"outbox" * 2)])
    s.close()  # as after a crash: nothing else was written
    again = Store(directory, 1000)
    try:
        assert [row for row, _, _ in again.read_inbox(0, 10)] == [kept]
        assert [data for _, _, data in again.read_outbox("a", 0, 10, 1000)] == [b"outbox" * 2]
        assert again.bytes == 20 + 12
        assert add(again, b"n") > done  # ids are never reused
    finally:
        again.close()


def _pragma(store: Store, name: str) -> object:
    return store._db.execute(f"PRAGMA {name}").fetchone()[0]


def test_a_new_queue_has_large_pages_and_checkpoints_the_log_every_few_mebibytes(tmp_path):
    s = Store(str(tmp_path / "q"), 1 << 24)
    try:
        assert _pragma(s, "page_size") == PAGE_SIZE == 65536
        assert _pragma(s, "wal_autocheckpoint") * PAGE_SIZE == CHECKPOINT_BYTES
        assert (_pragma(s, "journal_mode"), _pragma(s, "synchronous")) == ("wal", 2)  # 2: FULL
        big = bytes(range(256)) * 1000  # a blob over several pages
        row = add(s, big)
        assert s.read_inbox(0, 1) == [(row, TRACES, big)]
    finally:
        s.close()


def test_a_queue_made_with_small_pages_keeps_them_and_its_rows(tmp_path):
    directory = tmp_path / "q"
    directory.mkdir()
    old = sqlite3.connect(directory / "queue.sqlite3", isolation_level=None)
    old.execute("PRAGMA page_size=4096")
    old.execute("PRAGMA journal_mode=WAL")
    old.executescript(SCHEMA)
    old.execute("INSERT INTO inbox (signal, data) VALUES (?, ?)", (TRACES, b"queued before"))
    old.close()
    s = Store(str(directory), 1000)
    try:
        assert _pragma(s, "page_size") == 4096
        assert _pragma(s, "wal_autocheckpoint") == CHECKPOINT_BYTES // 4096
        assert [data for _, _, data in s.read_inbox(0, 10)] == [b"queued before"]
        assert s.bytes == len(b"queued before")
    finally:
        s.close()


def test_a_decoded_request_is_handed_to_the_pipeline_once_within_its_memory_bound(tmp_path, monkeypatch):
    monkeypatch.setattr(store_module, "DECODED_BYTES", 25)
    s = Store(str(tmp_path / "q"), 1000)
    try:
        decoded = [object() for _ in range(3)]
        rows = [s.append(TRACES, b"x" * 10, d).result(timeout=10) for d in decoded]
        plain = add(s, b"plain")
        # the first two fit in 25 bytes, the third does not; a row appended without one has none
        assert [s.take_decoded(r) for r in rows] == [decoded[0], decoded[1], None]
        assert s.take_decoded(rows[0]) is None and s.take_decoded(plain) is None
        again = s.append(TRACES, b"y" * 10, decoded[2]).result(timeout=10)  # room again once taken
        assert s.take_decoded(again) is decoded[2]
    finally:
        s.close()
    reopened = Store(str(tmp_path / "q"), 1000)
    try:
        assert reopened.take_decoded(rows[0]) is None and len(reopened.read_inbox(0, 10)) == 5
    finally:
        reopened.close()


def test_take_inbox_hands_over_decoded_requests_with_the_bytes_they_were_queued_as(store):
    decoded = object()
    data = b"handed"
    handed = store.append(TRACES, data, decoded).result(timeout=10)
    plain = add(store, b"plain", LOGS)
    taken = store.take_inbox(0, 10)
    assert taken == [(handed, TRACES, decoded, data), (plain, LOGS, None, None)]
    assert taken[0][3] is data  # the queued object itself, not read back from the queue
    assert store.take_inbox(0, 10) == [(handed, TRACES, None, None), (plain, LOGS, None, None)]  # handed over once
    assert store.take_decoded(handed) is None
    assert (store.inbox_data(handed), store.inbox_data(plain)) == (b"handed", b"plain")
    store.move([handed], [])
    with pytest.raises(KeyError):
        store.inbox_data(handed)


def test_outbox_rows_are_read_from_memory_within_its_bound_and_from_the_file_past_it(tmp_path, monkeypatch):
    monkeypatch.setattr(store_module, "OUTBOX_MEMORY_BYTES", 25)
    s = Store(str(tmp_path / "q"), 1000)
    try:
        written = [b"1" * 10, b"2" * 10, b"3" * 10]
        s.add_outbox([("a", TRACES, data) for data in written])
        rows = s.read_outbox("a", 0, 100, 1000)
        assert [data for _, _, data in rows] == written
        # the first two fit in 25 bytes: the very objects written; the third is read back from the file
        assert [data is w for (_, _, data), w in zip(rows, written)] == [True, True, False]
        s.delete_outbox(rows[:1])
        fourth = b"4" * 10
        s.add_outbox([("a", TRACES, fourth)])  # room again once a row was sent
        assert s.read_outbox("a", 0, 100, 1000)[-1][2] is fourth
    finally:
        s.close()
    reopened = Store(str(tmp_path / "q"), 1000)
    try:
        assert [data for _, _, data in reopened.read_outbox("a", 0, 100, 1000)] == [b"2" * 10, b"3" * 10, b"4" * 10]
    finally:
        reopened.close()
