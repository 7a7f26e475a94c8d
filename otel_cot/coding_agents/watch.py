"""``otel-cot watch``: follow the agents' session files and export their spans over OTLP as they are written.

    otel-cot watch            # follow ~/.claude/projects, ~/.codex/sessions, ~/.gemini/tmp until stopped
    otel-cot watch --once     # read what is there, export it, end every session's trace, exit

How it reads:

- Every ``poll`` seconds each known file is checked; directories are rescanned every ``rescan`` seconds.
  Only complete lines are read (a line still being written is read once its newline is there); a line longer
  than ``max_read`` bytes is skipped and counted as an error.
- Spans of a model turn are exported when the turn is complete (the next record shows it ended); a tool
  call's span when its result is written. So memory per file is one open turn and the calls waiting for a
  result, whatever the length of the session.
- The session's root span (``invoke_agent``) is exported when the file has been idle for ``idle`` seconds
  (or, with ``--once``, at the end), from the first to the last record; until then its children refer to a
  parent the backend has not received yet. Anything still open (a tool call with no result yet) is exported
  at that point too. A session that continues after that gets more spans under the same root; the root is
  not sent again.
- After each export the read positions and the readers' open state are saved (:mod:`.state`), so after a
  restart — even after SIGKILL — every record is exported and none twice; the one exception is a kill in
  the instant between the backend accepting a batch and the state being written, which re-sends that batch
  (same span ids).
- A file replaced (new inode) or truncated is read again from its start as a new file; a deleted file's open
  turn and root are exported and its state dropped. Gemini CLI's older ``.json`` files are rewritten in
  place: they are read whole when they change.
- A tool call the coding-agent hooks judged gets the guard's decision on its ``execute_tool`` span
  (:mod:`.guard_decisions`). The hooks export through this same class and state file; the
  :class:`~.state.ExportLease` keeps the two from sending the same records.
"""

from __future__ import annotations

import logging
import os
import signal
import stat
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Sequence, TextIO

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from otel_cot.config import Settings

from .guard_decisions import GuardDecisions, signature
from .model import AGENTS, GEMINI_CLI, Item, ToolRun
from .reader import SessionReader, loads
from .session import make_reader, root_of, spans_of
from .sources import DOCUMENT, LINES, session_files
from .spans import SpanBuilder
from .state import hook_sessions, load_state, save_state

logger = logging.getLogger("otel_cot.watch")
MAX_READ = 8 << 20  # bytes read from one file in one go; also the longest line that is read


@dataclass
class Counters:
    files: int = 0
    records: int = 0
    spans: int = 0
    errors: int = 0
    unknown: int = 0

    def line(self) -> str:
        return (f"otel-cot watch: {self.files} files followed · {self.records} records · {self.spans} spans "
                f"exported · {self.errors} errors · {self.unknown} unknown records skipped")


class FileTracker:
    """One session file: where it was read to, its reader, whether its root span was exported."""

    def __init__(self, agent: str, path: str, kind: str, entry: Mapping[str, Any] | None = None) -> None:
        self.agent, self.path, self.kind = agent, path, kind
        self.reader: SessionReader = make_reader(agent, path)
        self.identity: list[int] | None = None
        self.offset = 0  # bytes of complete lines read
        self.changed: list[int] | None = None  # (mtime ns, size) last read, for whole-document files
        self.root_done = False
        self.idle_done = False  # its open items were exported at the last idle time
        self.skipping = False  # inside a line longer than MAX_READ
        self.unreadable = False  # the last read failed (logged once)
        if entry:
            self.identity = entry.get("identity")
            self.offset = int(entry.get("offset") or 0)
            self.changed = entry.get("changed")
            self.root_done = bool(entry.get("root_done"))
            self.idle_done = bool(entry.get("idle_done"))
            self.skipping = bool(entry.get("skipping"))
            self.reader.restore(entry.get("reader") or {})

    def entry(self) -> dict[str, Any]:
        return {"agent": self.agent, "kind": self.kind, "identity": self.identity, "offset": self.offset,
                "changed": self.changed, "root_done": self.root_done, "idle_done": self.idle_done,
                "skipping": self.skipping, "reader": self.reader.snapshot()}

    def reset(self) -> None:
        self.reader = make_reader(self.agent, self.path)
        self.offset, self.changed, self.root_done, self.idle_done, self.skipping = 0, None, False, False, False


class Watcher:
    def __init__(self, dirs: Mapping[str, str], exporter: SpanExporter, *, state_path: str,
                 settings: Settings | None = None, idle_s: float = 900.0, poll_s: float = 1.0,
                 rescan_s: float = 5.0, since_s: float | None = None, batch_size: int = 512,
                 max_read: int = MAX_READ, clock: Callable[[], float] = time.time,
                 status: TextIO | None = None, status_interval_s: float = 10.0,
                 decisions: GuardDecisions | None = None, follow_hook_sessions: bool = False) -> None:
        self.dirs = dict(dirs)
        self.exporter = exporter
        self.state_path = state_path
        self.builder = SpanBuilder(settings or Settings.from_env())
        self.idle_s, self.poll_s, self.rescan_s, self.since_s = idle_s, poll_s, rescan_s, since_s
        self.batch_size, self.max_read, self.clock = batch_size, max_read, clock
        self.counters = Counters()
        self.decisions = decisions or GuardDecisions(os.path.dirname(os.path.abspath(state_path)))
        self.stop_event = threading.Event()
        self._status = status
        self._status_interval = status_interval_s
        self._tty = bool(status is not None and getattr(status, "isatty", lambda: False)())
        self._last_status = ("", 0.0)
        self._saved = load_state(state_path)
        self._trackers: dict[str, FileTracker] = {}
        self._batch: list[ReadableSpan] = []
        self._changed: set[str] = set()  # files whose saved entry is out of date
        self._removed: set[str] = set()  # files whose saved entry goes
        self._last_scan = float("-inf")
        self._started = clock()
        # `otel-cot watch` (it holds the export lease) also follows the session files the hooks left to it
        self.follow_hook_sessions = follow_hook_sessions
        self._aliases: set[str] = set()  # paths of files followed under another name (a symlinked directory)
        self._real: dict[str, str] = {}  # real path -> the path a file is followed under
        self._saved_by_real: dict[str, str] | None = None

    # --- the loop ------------------------------------------------------------------------------------------
    def run(self, once: bool = False) -> int:
        """Follow the files until ``stop_event`` is set (SIGINT/SIGTERM in the CLI); with ``once``, read what is
        there, end every session's trace, export, and return. 1 if spans could not be exported."""
        if once:
            ok = self.step(force_scan=True) and self.finish_all()
            self._print_status(final=True)
            return 0 if ok else 1
        while not self.stop_event.is_set():
            ok = self.step()
            self._print_status()
            self.stop_event.wait(self.poll_s if ok else min(30.0, max(self.poll_s, 5.0)))
        ok = self._export()
        self._print_status(final=True)
        return 0 if ok else 1

    def step(self, force_scan: bool = False) -> bool:
        """One pass: rescan if due, read every file to its end (or the batch limit), export. False when the
        backend refused a batch (it is kept and sent first next time)."""
        if self._batch and not self._export():
            return False
        now = self.clock()
        if force_scan or now - self._last_scan >= self.rescan_s:
            self._scan(now)
        for path in list(self._trackers):
            tracker = self._trackers[path]
            more = True
            while more:
                spans, more = self._poll(tracker, now)
                self._emit(spans)
                if len(self._batch) >= self.batch_size and not self._export():
                    return False
        return self._export()

    def finish_all(self) -> bool:
        """End every session's trace now (``--once``): open turns, calls without a result, root spans."""
        for tracker in self._trackers.values():
            self._emit(self._finish(tracker, root=not tracker.root_done))
        return self._export()

    def track(self, agent: str, path: str) -> None:
        """Follow ``path`` (a session file named by a hook, not found by a directory scan) from where the state
        file says it was read to."""
        if path not in self._trackers:
            kind = DOCUMENT if agent == GEMINI_CLI and path.endswith(".json") else LINES
            self._add(agent, path, kind, self._saved.get(path))

    def end_file(self, path: str, *, root: bool) -> bool:
        """Export what the file's reader still holds (its open model turn, calls without a result) and, with
        ``root``, the session's root span: the agent said its answer, or the session, ended. False when the
        backend refused the batch."""
        tracker = self._trackers.get(path)
        if tracker is not None:
            self._emit(self._finish(tracker, root=root and not tracker.root_done))
            tracker.idle_done = True
        return self._export()

    # --- files ----------------------------------------------------------------------------------------------
    def _scan(self, now: float) -> None:
        self._last_scan = now
        seen: set[str] = set()
        for agent, root in self.dirs.items():
            for path, kind in session_files(agent, root):
                seen.add(path)
                if path in self._trackers or path in self._aliases:
                    continue
                entry = self._saved.get(path)
                if entry is None and self.since_s is not None:
                    try:
                        if os.stat(path).st_mtime < self._started - self.since_s:
                            continue
                    except OSError:
                        continue
                self._add(agent, path, kind, entry)
        if self.follow_hook_sessions:
            self._scan_hook_sessions(seen)
        for path in [p for p in self._trackers if p not in seen and not os.path.exists(p)]:
            tracker = self._trackers.pop(path)  # deleted: what it still held is exported, its state dropped
            self._real = {real: p for real, p in self._real.items() if p != path}
            self._emit(self._finish(tracker, root=not tracker.root_done))
            self._changed.discard(path)
            if self._saved.pop(path, None) is not None:
                self._removed.add(path)
        self.counters.files = len(self._trackers)

    def _scan_hook_sessions(self, seen: set[str]) -> None:
        for agent, path in hook_sessions(self.state_path):
            seen.add(path)
            if agent in AGENTS:
                self.track(agent, path)

    def _add(self, agent: str, path: str, kind: str, entry: Mapping[str, Any] | None) -> None:
        """Follow ``path``, unless the same file is followed under another name (a directory reached through a
        symbolic link, and the hooks naming the real path): it would be exported twice."""
        if path in self._aliases:
            return
        real = os.path.realpath(path)
        if self._real.get(real, path) != path:
            self._aliases.add(path)
            return
        self._real[real] = path
        if entry is None:  # read before under another name? (the order of names can differ after a restart)
            if self._saved_by_real is None:
                self._saved_by_real = {os.path.realpath(p): p for p in self._saved}
            entry = self._saved.get(self._saved_by_real.get(real, path))
        self._trackers[path] = FileTracker(agent, path, kind, entry)
        self._changed.add(path)

    def _poll(self, tracker: FileTracker, now: float) -> tuple[list[ReadableSpan], bool]:
        try:
            st = os.stat(tracker.path)
        except OSError:
            return [], False  # deleted: handled by the next scan
        if not stat.S_ISREG(st.st_mode):  # a directory or a FIFO named like a session file
            return [], False
        spans: list[ReadableSpan] = []
        more = False
        if tracker.kind == LINES:
            identity = [st.st_dev, st.st_ino]
            if tracker.identity is not None and (identity != tracker.identity or st.st_size < tracker.offset):
                spans.extend(self._finish(tracker, root=not tracker.root_done))  # rotated: the old file ends
                tracker.reset()
                self._changed.add(tracker.path)
            if tracker.identity != identity:
                tracker.identity = identity
                self._changed.add(tracker.path)
            if st.st_size > tracker.offset:
                try:
                    items, more = self._read_lines(tracker)
                except OSError as exc:  # deleted since the stat, or not readable: tried again next time
                    if not tracker.unreadable:
                        logger.warning("otel-cot watch: cannot read %s: %s", tracker.path, exc)
                        self.counters.errors += 1
                    tracker.unreadable = True
                    return spans, False
                tracker.unreadable = False
                spans.extend(self._spans(tracker, items))
        elif tracker.changed != [st.st_mtime_ns, st.st_size]:
            spans.extend(self._spans(tracker, self._read_document(tracker, st)))
        if not tracker.idle_done and now - st.st_mtime >= self.idle_s and not more:
            spans.extend(self._finish(tracker, root=not tracker.root_done))
            tracker.idle_done = True
            self._changed.add(tracker.path)
        return spans, more

    def _read_lines(self, tracker: FileTracker) -> tuple[list[Item], bool]:
        with open(tracker.path, "rb") as fh:
            fh.seek(tracker.offset)
            data = fh.read(self.max_read)
        end = data.rfind(b"\n")
        if end < 0:
            if len(data) >= self.max_read:  # one line longer than we read at once: skip it
                if not tracker.skipping:
                    self.counters.errors += 1
                    logger.warning("otel-cot watch: %s: a line longer than %d bytes at offset %d is skipped",
                                   tracker.path, self.max_read, tracker.offset)
                tracker.skipping, tracker.offset = True, tracker.offset + len(data)
                self._changed.add(tracker.path)
                return [], True
            return [], False
        chunk = data[:end + 1]
        if tracker.skipping:  # the rest of the long line, up to its newline, is dropped
            first = chunk.find(b"\n")
            chunk, tracker.skipping = chunk[first + 1:], False
        items: list[Item] = []
        before = tracker.reader.stats.records, sum(tracker.reader.stats.unknown.values())
        for line in chunk.splitlines(keepends=True):
            items.extend(tracker.reader.feed_line(line))
        stats = tracker.reader.stats
        self.counters.records += stats.records - before[0]
        self.counters.unknown += sum(stats.unknown.values()) - before[1]
        tracker.offset += end + 1
        tracker.idle_done = False
        self._changed.add(tracker.path)
        return items, len(data) >= self.max_read

    def _read_document(self, tracker: FileTracker, st: os.stat_result) -> list[Item]:
        try:
            with open(tracker.path, "rb") as fh:
                document = loads(fh.read())
        except (OSError, ValueError):  # caught while being rewritten: read again next time
            return []
        if not isinstance(document, dict):
            return []
        before = tracker.reader.stats.records
        items = tracker.reader.feed_document(document)  # type: ignore[attr-defined]
        self.counters.records += tracker.reader.stats.records - before
        tracker.changed, tracker.idle_done = [st.st_mtime_ns, st.st_size], False
        self._changed.add(tracker.path)
        return items

    def _spans(self, tracker: FileTracker, items: Iterable[Item]) -> list[ReadableSpan]:
        items = list(items)
        if not items:
            return []
        if tracker.reader.scope is None:  # records before the session is known: nothing to attach them to
            self.counters.errors += 1
            return []
        signatures = {item.call_id: signature(item.name, item.arguments) for item in items
                      if isinstance(item, ToolRun)} if tracker.agent == GEMINI_CLI else None
        return self.decisions.annotate(spans_of(self.builder, tracker.reader.scope, items), signatures)

    def _finish(self, tracker: FileTracker, *, root: bool) -> list[ReadableSpan]:
        spans = self._spans(tracker, tracker.reader.flush())
        if root:
            span = root_of(self.builder, tracker.reader)
            if span is not None:
                spans.append(span)
                tracker.root_done = True
        self._changed.add(tracker.path)
        return spans

    # --- export and checkpoint --------------------------------------------------------------------------------
    def _emit(self, spans: Sequence[ReadableSpan]) -> None:
        self._batch.extend(spans)

    def _export(self) -> bool:
        """Send the batch; then save the state (only then: a restart re-reads what was not exported)."""
        if self._batch:
            try:
                result = self.exporter.export(list(self._batch))
            except Exception:
                logger.exception("otel-cot watch: exporting %d spans failed", len(self._batch))
                result = SpanExportResult.FAILURE
            if result != SpanExportResult.SUCCESS:
                self.counters.errors += 1
                return False
            self.counters.spans += len(self._batch)
            self._batch = []
        if self._changed or self._removed:
            changed = {}
            for path in self._changed:
                tracker = self._trackers.get(path)
                if tracker is not None:
                    changed[path] = self._saved[path] = tracker.entry()
            try:
                save_state(self.state_path, self._saved, changed=changed, removed=self._removed)
            except OSError as exc:
                self.counters.errors += 1
                logger.error("otel-cot watch: cannot write the state file %s: %s", self.state_path, exc)
                return False
            self._changed, self._removed = set(), set()
        return True

    # --- status line --------------------------------------------------------------------------------------------
    def _print_status(self, final: bool = False) -> None:
        if self._status is None:
            return
        line = self.counters.line()
        now = time.monotonic()
        if self._tty:
            self._status.write("\r" + line + ("\n" if final else ""))
        elif final or (line != self._last_status[0] and now - self._last_status[1] >= self._status_interval):
            self._status.write(line + "\n")
        else:
            return
        self._status.flush()
        self._last_status = (line, now)


def install_signal_handlers(watcher: Watcher) -> None:
    def stop(_signum: int, _frame: Any) -> None:
        watcher.stop_event.set()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)

