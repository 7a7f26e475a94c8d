"""One session's transcript as the guard's history: read incrementally, fed into the guard's per-trace window.

Before a tool call the checker reads what the agent appended to its session file since the last call (the
readers of :mod:`otel_cot.coding_agents`, fed line by line), turns the finished items into the spans ``watch``
would export, and hands those to the guard's window for the session's trace: reasoning, answers, user input,
tool calls that ran and their results. So the pending call is judged with what led to it, reasoning included.

- What the agent has written but not finished (the model turn still open, e.g. Gemini CLI's message whose tool
  calls are pending) is read too, without consuming it: its reasoning is added (the window judges a reasoning
  text once, so adding it again when the turn closes changes nothing).
- A call still without a result is never added as history: it is the pending call (judged by the check) or
  another call in flight. A call that was checked is not added again when its result arrives (same call id,
  or for Gemini CLI, which gives hooks no call id, the same tool and arguments).
- Reading is bounded: a session file read for the first time, or one that grew by more than ``TAIL_BYTES``
  since, is read from its last ``TAIL_BYTES`` (after its first ``HEAD_BYTES``, where the agents put what
  names the session). The window keeps the last 64 views anyway (docs/guard.md).
"""

from __future__ import annotations

import copy
import hashlib
import logging
import os
import stat
import time
from collections import OrderedDict
from typing import Any

from otel_cot.coding_agents import make_reader, span_records, trace_id
from otel_cot.coding_agents.guard_decisions import signature
from otel_cot.coding_agents.model import GEMINI_CLI, ModelTurn, Scope, ToolRun
from otel_cot.coding_agents.reader import SessionReader, loads
from otel_cot.coding_agents.spans import SpanBuilder
from otel_cot.detectors.base import KIND_TOOL_CALL
from otel_cot.detectors.views import views_from_record
from otel_cot.guard.check import Guard

HISTORY_BUDGET_S = 2.0  # judging what a refresh read, before the check (the check has the policy's timeout_ms)
TAIL_BYTES = 4 << 20
HEAD_BYTES = 64 << 10
MAX_DOCUMENT = 16 << 20
MAX_CHECKED = 512
logger = logging.getLogger("otel_cot.hooks")


class TranscriptError(Exception):
    """The session file could not be read as a session (missing, unreadable, not the agent's format)."""


class SessionHistory:
    """The transcript of one session and how far it has been fed into one guard."""

    def __init__(self, agent: str, session_id: str, path: str | None, builder: SpanBuilder) -> None:
        self.agent, self.session_id, self.path = agent, session_id, path
        self.builder = builder
        self.trace_id = trace_id(agent, session_id)
        self.scope = Scope(agent, session_id, agent_name=agent)
        self._guard: Guard | None = None
        self._reset()
        self._checked_ids: OrderedDict[str, None] = OrderedDict()
        self._checked_calls: OrderedDict[str, str] = OrderedDict()  # signature -> call id (Gemini CLI)
        self._pending: list[ToolRun] = []  # calls on file without a result, at the last refresh
        self._seen_runs: OrderedDict[str, str] = OrderedDict()  # signature -> call id, of calls on file
        self._made_up: OrderedDict[str, str] = OrderedDict()  # made-up call id -> signature

    def _reset(self) -> None:
        self.reader: SessionReader = make_reader(self.agent, self.path)
        self.offset = 0
        self.identity: tuple[int, int] | None = None
        self.changed: tuple[int, int] | None = None

    # --- reading ---------------------------------------------------------------------------------------
    def refresh(self, guard: Guard) -> None:
        """Feed what was appended since the last refresh into ``guard``'s window for this session; raises
        :class:`TranscriptError` when the file cannot be read as a session (the call is still judged on its
        own)."""
        if guard is not self._guard:  # a new policy: a new window, filled from the start
            self._guard = guard
            self._reset()
        if not self.path:
            raise TranscriptError("the hook input names no transcript")
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            raise TranscriptError(f"transcript not found: {self.path}") from None
        except OSError as exc:
            raise TranscriptError(f"cannot read the transcript {self.path}: {exc}") from None
        if not stat.S_ISREG(st.st_mode):  # a FIFO or a device would block the read, or never end
            raise TranscriptError(f"the transcript {self.path} is not a regular file")
        if self.agent == GEMINI_CLI and self.path.endswith(".json"):
            items = self._read_document(st)
        else:
            identity = (st.st_dev, st.st_ino)
            if self.identity is not None and (identity != self.identity or st.st_size < self.offset):
                self._reset()  # replaced or truncated: a new file
            self.identity = identity
            items = self._read_lines(st.st_size)
        self._feed(guard, items)
        self._peek_open(guard)
        # The history is judged now, on a budget of its own: within the check it would spend the pending call's
        # budget (50 ms by default: a few long tool results), and on_error would decide the call.
        dropped = guard.recorder.catch_up(self.trace_id, time.perf_counter() + HISTORY_BUDGET_S)
        if dropped:
            logger.warning("otel-cot hooks: %s: %d items of history left unjudged after %.1f s", self.path,
                           dropped, HISTORY_BUDGET_S)
        stats = self.reader.stats
        if stats.records == 0 and st.st_size > 0:
            raise TranscriptError(f"the transcript {self.path} holds no readable record "
                                  f"({stats.malformed} lines that are not JSON objects)")

    def _read_lines(self, size: int) -> list[Any]:
        items: list[Any] = []
        try:
            with open(self.path, "rb") as fh:  # type: ignore[arg-type]
                if size - self.offset > TAIL_BYTES:
                    if self.offset == 0:
                        head = fh.read(HEAD_BYTES)
                        for line in head[:head.rfind(b"\n") + 1].splitlines(keepends=True):
                            items.extend(self.reader.feed_line(line))
                    fh.seek(size - TAIL_BYTES)
                    fh.readline()  # the rest of a line cut by the jump
                    self.offset = fh.tell()
                fh.seek(self.offset)
                data = fh.read(size - self.offset)
        except OSError as exc:
            raise TranscriptError(f"cannot read the transcript {self.path}: {exc}") from None
        end = data.rfind(b"\n")
        if end < 0:
            return items
        for line in data[:end + 1].splitlines(keepends=True):
            items.extend(self.reader.feed_line(line))
        self.offset += end + 1
        return items

    def _read_document(self, st: os.stat_result) -> list[Any]:
        if self.changed == (st.st_mtime_ns, st.st_size):
            return []
        if st.st_size > MAX_DOCUMENT:
            raise TranscriptError(f"the transcript {self.path} is larger than {MAX_DOCUMENT} bytes")
        try:
            with open(self.path, "rb") as fh:  # type: ignore[arg-type]
                document = loads(fh.read())
        except ValueError:
            return []  # caught while Gemini CLI rewrites it: read next time
        except OSError as exc:
            raise TranscriptError(f"cannot read the transcript {self.path}: {exc}") from None
        if not isinstance(document, dict):
            raise TranscriptError(f"the transcript {self.path} is not a Gemini CLI session")
        self.changed = (st.st_mtime_ns, st.st_size)
        return self.reader.feed_document(document)  # type: ignore[attr-defined]

    # --- into the guard's window -------------------------------------------------------------------------
    def _feed(self, guard: Guard, items: list[Any]) -> None:
        scope = self.reader.scope or self.scope
        recorder = guard.recorder
        for item in items:
            if isinstance(item, ModelTurn):
                for record in span_records(self.builder.turn(scope, item)):
                    recorder.add_record(self.trace_id, record)  # its tool calls are judged when checked
            elif isinstance(item, ToolRun) and item.has_result:
                self._remember(self._seen_runs, signature(item.name, item.arguments), item.call_id)
                checked = self._was_checked(item)
                for record in span_records([self.builder.tool(scope, item)]):
                    for view in views_from_record(record):
                        if not (checked and view.kind == KIND_TOOL_CALL):
                            recorder.add_view(self.trace_id, view)

    def _peek_open(self, guard: Guard) -> None:
        """The reasoning of what is written but still open, without consuming it; the calls without a result."""
        state = copy.deepcopy(self.reader.snapshot())
        try:
            items = self.reader.flush()
        finally:
            self.reader.restore(state)
        scope = self.reader.scope or self.scope
        runs = [item for item in items if isinstance(item, ToolRun)]
        self._pending = [run for run in runs if not run.has_result]
        for run in runs:
            self._remember(self._seen_runs, signature(run.name, run.arguments), run.call_id)
        for item in items:
            if isinstance(item, ModelTurn) and item.reasoning:
                reasoning = [s for s in self.builder.turn(scope, item) if s.name.startswith("reasoning")]
                for record in span_records(reasoning):
                    guard.recorder.add_record(self.trace_id, record)

    # --- the pending call ------------------------------------------------------------------------------------
    def call_id(self, tool: str, arguments: Any, given: str | None) -> str:
        """The pending call's id: the agent's (Claude Code, Codex), else the id of the matching call on file
        without a result (Gemini CLI), else one made up from the call."""
        sig = signature(tool, arguments)
        call_id = given
        if call_id is None:
            used = set(self._checked_calls.values())
            call_id = next((run.call_id for run in self._pending
                            if signature(run.name, run.arguments) == sig and run.call_id not in used), None)
        if call_id is None:
            digest = hashlib.sha256(f"{self.session_id}|{sig}|{len(self._made_up)}".encode()).hexdigest()
            call_id = "hook-" + digest[:16]
            self._remember(self._made_up, call_id, sig)
        self._remember(self._checked_ids, call_id, None)
        self._remember(self._checked_calls, sig, call_id)
        return call_id

    def signature_of(self, call_id: str) -> str | None:
        """The signature a call checked under a made-up id was checked with."""
        return self._made_up.get(call_id)

    def resolve(self, call_id: str) -> str:
        """The id the session file gives a call checked under a made-up id, once the file has it (else the id)."""
        if not call_id.startswith("hook-"):
            return call_id
        sig = self._made_up.get(call_id)
        return self._seen_runs.get(sig, call_id) if sig is not None else call_id

    def _was_checked(self, run: ToolRun) -> bool:
        if run.call_id in self._checked_ids:
            return True
        sig = signature(run.name, run.arguments)
        if self._checked_calls.get(sig, "").startswith("hook-"):
            self._checked_calls.pop(sig)
            return True
        return False

    @staticmethod
    def _remember(store: OrderedDict, key: str, value: Any) -> None:
        store[key] = value
        store.move_to_end(key)
        while len(store) > MAX_CHECKED:
            store.popitem(last=False)
