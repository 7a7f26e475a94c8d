"""``otel-cot watch``'s memory across restarts: per session file, how far it was read and the reader's state.

One JSON file (``$XDG_STATE_HOME/otel-cot/watch-state.json``, else ``~/.local/state/otel-cot/...``; on
Windows ``%LOCALAPPDATA%\\otel-cot\\...``), written atomically (a temporary file in the same directory,
flushed to disk, then renamed over the old one), and only after the spans read up to that point were
exported. A restart therefore resumes exactly there: nothing is read twice, nothing is skipped.

Between two such snapshots, a checkpoint appends only the entries that changed to ``<state file>.journal``
(one JSON line, flushed to disk), so that following one active session among thousands of old ones does not
rewrite every entry each second. The next snapshot, written once the journal is as large as it, replaces
both. A line cut short by a crash is that checkpoint not having happened.

The coding-agent hooks (:mod:`otel_cot.hooks`) export from the same state file, so that the two never send the
same records: whoever exports holds the :class:`ExportLease` (an exclusive lock on ``<state file>.lock``).
``watch`` holds it for as long as it runs; the hooks' checker takes it for one export at a time and, when
``watch`` holds it, leaves the exporting to ``watch``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from typing import Any, Iterable, Mapping

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; the lease is always granted
    fcntl = None  # type: ignore[assignment]

logger = logging.getLogger("otel_cot.watch")
VERSION = 1


def default_state_path(env: Mapping[str, str] | None = None) -> str:
    env = os.environ if env is None else env
    if env.get("XDG_STATE_HOME"):
        base = env["XDG_STATE_HOME"]
    elif os.name == "nt" and env.get("LOCALAPPDATA"):
        base = env["LOCALAPPDATA"]
    else:
        base = os.path.join(os.path.expanduser("~"), ".local", "state")
    return os.path.join(base, "otel-cot", "watch-state.json")


def load_state(path: str) -> dict[str, dict[str, Any]]:
    """The saved entries per file path; empty when there is no state yet. An unreadable state file is set aside
    (renamed ``.corrupt``) with an error logged, and reading starts over."""
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        logger.error("otel-cot watch: cannot read the state file %s (%s); it is kept as %s.corrupt and every "
                     "session file is read from the start", path, exc, path)
        try:
            os.replace(path, path + ".corrupt")
        except OSError:
            pass
        return {}
    files = data.get("files") if isinstance(data, dict) else None
    entries = {str(k): v for k, v in files.items() if isinstance(v, dict)} if isinstance(files, dict) else {}
    journal_id = data.get("journal") if isinstance(data, dict) else None
    _JOURNAL_IDS.pop(path, None)  # unless the journal is this snapshot's: the next checkpoint is a snapshot
    if isinstance(journal_id, str) and _apply_journal(path + JOURNAL_SUFFIX, journal_id, entries):
        _JOURNAL_IDS[path] = journal_id
    return entries


JOURNAL_SUFFIX = ".journal"
_MIN_JOURNAL = 64 << 10  # bytes of journal below which no snapshot is rewritten, whatever the snapshot's size
# The id each snapshot gives its journal (the journal's first line names it): a journal left by a crash
# between a new snapshot and the removal of the old journal names another id and is not applied. Known to
# the process that loaded or wrote the snapshot last; the export lease makes that the one writing now.
_JOURNAL_IDS: dict[str, str] = {}


def _apply_journal(path: str, journal_id: str, entries: dict[str, dict[str, Any]]) -> bool:
    """Apply the journal at ``path`` if it is the one ``journal_id`` names; whether checkpoints may be appended
    to it (it is that journal, or there is none)."""
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except FileNotFoundError:
        return True
    except OSError as exc:
        logger.error("otel-cot watch: cannot read the state journal %s (%s); the state is the last snapshot's",
                     path, exc)
        return False
    lines = data.split(b"\n")[:-1]  # after the last line break: a checkpoint that did not finish
    try:
        header = json.loads(lines[0]) if lines else None
    except ValueError:
        header = None
    if not isinstance(header, dict) or header.get("journal") != journal_id:
        return False  # an older snapshot's journal, or its first checkpoint cut short
    for line in lines[1:]:
        try:
            record = json.loads(line)
            changed, removed = record["files"], record["removed"]
        except (ValueError, TypeError, KeyError):
            logger.warning("otel-cot watch: a line of the state journal %s is not a checkpoint; skipped", path)
            continue
        if isinstance(changed, dict):
            entries.update((str(k), v) for k, v in changed.items() if isinstance(v, dict))
        if isinstance(removed, list):
            for key in removed:
                entries.pop(str(key), None)
    return True


def save_state(path: str, files: Mapping[str, Mapping[str, Any]], *,
               changed: Mapping[str, Mapping[str, Any]] | None = None, removed: Iterable[str] = ()) -> None:
    """Checkpoint ``files`` (every entry): by appending ``changed`` and ``removed`` to the journal when they are
    given and the journal is still smaller than the snapshot, else by a new snapshot (the journal emptied)."""
    journal = path + JOURNAL_SUFFIX
    journal_id = _JOURNAL_IDS.get(path)
    if changed is not None and journal_id is not None and os.path.exists(path):
        journal_size = _size(journal)
        if journal_size < max(_MIN_JOURNAL, _size(path)):
            line = json.dumps({"files": changed, "removed": sorted(removed)}, ensure_ascii=False,
                              separators=(",", ":")).encode("utf-8")
            if journal_size == 0:
                line = json.dumps({"journal": journal_id}).encode("utf-8") + b"\n" + line
            _append_line(journal, line)
            return
    journal_id = os.urandom(8).hex()
    data = json.dumps({"version": VERSION, "journal": journal_id, "files": files}, ensure_ascii=False,
                      separators=(",", ":"))
    write_atomically(path, data.encode("utf-8"))
    _JOURNAL_IDS[path] = journal_id
    try:
        os.unlink(journal)  # names the previous snapshot's id: harmless if a crash leaves it
    except FileNotFoundError:
        pass


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except FileNotFoundError:
        return 0


def _append_line(path: str, line: bytes) -> None:
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        size = os.fstat(fd).st_size
        if size and os.lseek(fd, size - 1, os.SEEK_SET) >= 0 and os.read(fd, 1) != b"\n":  # (writes still append)
            line = b"\n" + line  # a line cut short by a crash stays a line of its own, skipped when read
        os.write(fd, line + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomically(path: str, content: bytes, mode: int | None = None) -> None:
    """``content`` as the file at ``path``, all or nothing: a temporary file in the same directory, flushed to
    disk, then renamed over ``path``. ``mode``: the new file's permissions (default: the temporary file's)."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".otel-cot-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(content)
            fh.flush()
            os.fsync(fh.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


# --- session files named by hooks, for ``watch`` --------------------------------------------------------------
def _hook_sessions_dir(state_path: str) -> str:
    return os.path.join(os.path.dirname(os.path.abspath(state_path)), "hook-sessions")


def note_hook_session(state_path: str, agent: str, path: str) -> None:
    """Tell the ``watch`` that holds the lease about a session file a hook named, which the hooks leave to it to
    export: it follows the file even when it is not under the directories it scans (``--agent`` left that agent
    out, or the agent's ``CLAUDE_CONFIG_DIR`` is not in watch's environment)."""
    key = hashlib.sha256(f"{agent}\x00{path}".encode("utf-8", "surrogateescape")).hexdigest()[:32]
    entry = os.path.join(_hook_sessions_dir(state_path), agent, key)
    if not os.path.exists(entry):
        write_atomically(entry, path.encode("utf-8", "surrogateescape"))


def hook_sessions(state_path: str) -> list[tuple[str, str]]:
    """(agent, path) of the session files hooks named (:func:`note_hook_session`); entries of files that are gone
    are removed."""
    out = []
    root = _hook_sessions_dir(state_path)
    for agent in sorted(_listdir(root)):
        for key in sorted(_listdir(os.path.join(root, agent))):
            entry = os.path.join(root, agent, key)
            try:
                with open(entry, "rb") as fh:
                    path = fh.read().decode("utf-8", "surrogateescape")
                if os.path.exists(path):
                    out.append((agent, path))
                else:
                    os.unlink(entry)
            except OSError:
                continue
    return out


def _listdir(directory: str) -> list[str]:
    try:
        return [name for name in os.listdir(directory) if not name.startswith(".")]
    except OSError:
        return []


class ExportLease:
    """The right to export the sessions of one state file (and to write it): an exclusive ``flock`` on
    ``<state file>.lock``, released by ``release`` or when the process ends, however it ends."""

    def __init__(self, state_path: str) -> None:
        self.path = state_path + ".lock"
        self._fd: int | None = None

    def acquire(self, *, wait: bool) -> bool:
        """Take the lease; with ``wait`` False, give up at once if another process holds it."""
        if self._fd is not None:
            return True
        if fcntl is None:
            self._fd = -1
            return True
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except OSError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None and fd >= 0:
            os.close(fd)  # closing the descriptor drops the lock
