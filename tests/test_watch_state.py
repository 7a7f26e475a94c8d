"""watch's state file between snapshots: a checkpoint appends only the entries that changed to a journal."""

from __future__ import annotations

import os

from otel_cot.coding_agents import state
from otel_cot.coding_agents.state import JOURNAL_SUFFIX, load_state, save_state


def _entries(n: int, offset: int = 0) -> dict[str, dict]:
    return {f"/s/{i}.jsonl": {"agent": "claude_code", "offset": offset, "reader": {"pad": "x" * 200}}
            for i in range(n)}


def test_a_checkpoint_of_one_changed_file_appends_it_and_leaves_the_snapshot(tmp_path):
    path = str(tmp_path / "watch-state.json")
    files = _entries(500)
    save_state(path, files, changed=files)  # no snapshot yet: a snapshot
    snapshot = os.stat(path)
    assert not os.path.exists(path + JOURNAL_SUFFIX)

    files["/s/7.jsonl"] = {**files["/s/7.jsonl"], "offset": 4096}
    save_state(path, files, changed={"/s/7.jsonl": files["/s/7.jsonl"]})

    after = os.stat(path)
    assert (after.st_ino, after.st_mtime_ns, after.st_size) == (snapshot.st_ino, snapshot.st_mtime_ns,
                                                                 snapshot.st_size)
    assert os.path.getsize(path + JOURNAL_SUFFIX) < 400  # the one entry, not the 500
    assert load_state(path) == files


def test_removed_files_leave_the_state(tmp_path):
    path = str(tmp_path / "watch-state.json")
    files = _entries(3)
    save_state(path, files)
    del files["/s/1.jsonl"]
    save_state(path, files, changed={}, removed=["/s/1.jsonl"])
    assert load_state(path) == files


def test_a_journal_as_large_as_the_snapshot_is_folded_into_a_new_one(tmp_path, monkeypatch):
    monkeypatch.setattr(state, "_MIN_JOURNAL", 0)
    path = str(tmp_path / "watch-state.json")
    files = _entries(5)
    save_state(path, files)
    snapshots = []
    write = state.write_atomically
    monkeypatch.setattr(state, "write_atomically", lambda *a, **k: (snapshots.append(1), write(*a, **k)))
    for step in range(1, 40):
        files = _entries(5, offset=step)
        save_state(path, files, changed=files)  # every entry changed: each line is a snapshot's size
        assert load_state(path) == files
        journal = path + JOURNAL_SUFFIX
        assert not os.path.exists(journal) or os.path.getsize(journal) <= 2 * os.path.getsize(path)
    assert len(snapshots) >= 10  # a new snapshot every other checkpoint or so, not only the first


def test_a_checkpoint_cut_short_by_a_crash_is_skipped_and_the_next_one_still_reads(tmp_path):
    path = str(tmp_path / "watch-state.json")
    files = _entries(4)
    save_state(path, files)
    files["/s/0.jsonl"] = {**files["/s/0.jsonl"], "offset": 10}
    save_state(path, files, changed={"/s/0.jsonl": files["/s/0.jsonl"]})
    with open(path + JOURNAL_SUFFIX, "ab") as fh:  # the crash: half a line, no line break
        fh.write(b'{"files":{"/s/1.jsonl":{"agent":"claude_code","off')
    assert load_state(path) == files  # the cut checkpoint did not happen

    files["/s/2.jsonl"] = {**files["/s/2.jsonl"], "offset": 20}
    save_state(path, files, changed={"/s/2.jsonl": files["/s/2.jsonl"]})
    assert load_state(path) == files


def test_a_journal_left_from_before_the_last_snapshot_is_not_applied(tmp_path, monkeypatch):
    monkeypatch.setattr(state, "_MIN_JOURNAL", 0)
    path, journal = str(tmp_path / "watch-state.json"), str(tmp_path / "watch-state.json") + JOURNAL_SUFFIX
    files = _entries(3)
    save_state(path, files)
    old = _entries(3, offset=1)
    save_state(path, old, changed={"/s/0.jsonl": old["/s/0.jsonl"]})
    with open(journal, "rb") as fh:
        stale = fh.read()
    newer = _entries(3, offset=2)
    save_state(path, newer)  # a new snapshot; then the crash brings the old journal back
    with open(journal, "wb") as fh:
        fh.write(stale)
    assert load_state(path) == newer  # not offset 1 for /s/0.jsonl
    newest = _entries(3, offset=3)
    save_state(path, newest, changed={"/s/1.jsonl": newest["/s/1.jsonl"]})  # a snapshot, not an append to it
    assert load_state(path) == newest


def test_a_first_checkpoint_cut_short_makes_the_next_one_a_snapshot(tmp_path):
    path, journal = str(tmp_path / "watch-state.json"), str(tmp_path / "watch-state.json") + JOURNAL_SUFFIX
    files = _entries(3)
    save_state(path, files)
    with open(journal, "wb") as fh:
        fh.write(b'{"jour')
    assert load_state(path) == files
    files["/s/2.jsonl"] = {**files["/s/2.jsonl"], "offset": 9}
    save_state(path, files, changed={"/s/2.jsonl": files["/s/2.jsonl"]})
    assert not os.path.exists(journal) and load_state(path) == files
