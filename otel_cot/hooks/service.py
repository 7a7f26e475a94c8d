"""The checker's work, without the socket: answer one hook call, keep the sessions' history, export their spans.

    service = HookService()
    code, stdout, stderr = service.handle("claude_code", "PreToolUse", policy_path, stdin_bytes)

- **Before a tool call** the session's transcript is read up to now (:class:`.history.SessionHistory`) and the
  pending call is judged by the policy's guard (:class:`otel_cot.guard.Guard`) against that history. The answer
  is the agent's: deny (the model reads the guard's message), ask (the agent's permission prompt), or nothing
  (the agent's own rules apply). The decision is appended to the session's decision file, so that the call's
  ``execute_tool`` span carries it (:mod:`otel_cot.coding_agents.guard_decisions`).
- **Errors** never reach the agent as a failure: bad hook input, a policy file that cannot be used, a transcript
  that is missing or unreadable, a guard that fails or overruns. The policy's ``on_error`` decides (open: the
  call is allowed; closed: denied), the error is logged (the hooks log) and is on the decision
  (``cot.guard.error``). A transcript that cannot be read does not stop the call from being judged on its own:
  a ``git push --force`` is still denied; ``on_error`` decides only what the call alone would allow.
- **After a tool call, when the answer ends, when the session ends** the session's new records are exported as
  spans (the same spans and ids as ``otel-cot watch``), in the background, from the shared state file: when
  ``watch`` runs it holds the export lease and does the exporting itself (:class:`~otel_cot.coding_agents.state.
  ExportLease`), so no record is sent twice.
"""

from __future__ import annotations

import glob
import logging
import os
import queue
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from typing import Any, Callable

from opentelemetry.sdk.trace.export import SpanExporter
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from otel_cot.coding_agents import span_arguments
from otel_cot.coding_agents.guard_decisions import GuardDecisions, signature
from otel_cot.coding_agents.model import CLAUDE_CODE, Scope
from otel_cot.coding_agents.spans import SpanBuilder, tool_span_id
from otel_cot.coding_agents.state import ExportLease, note_hook_session
from otel_cot.config import Settings
from otel_cot.guard.check import Guard
from otel_cot.guard.decision import ALLOWED, ASK, BLOCK, BLOCKED, LOG, Decision
from otel_cot.instrumentation.guard_hooks import decision_attributes

from . import client
from .history import MAX_CHECKED, SessionHistory, TranscriptError
from .policy import HISTORY_AGE_S, MAX_SESSIONS, Policies, PolicyError
from .protocol import (NO_SESSION_END, POST, PRE, SESSION_END, TURN_END, HookInput, HookInputError, parse,
                       tool_arguments)

logger = logging.getLogger("otel_cot.hooks")

Reply = tuple[int, bytes, bytes]
EXPORT_READ, EXPORT_TURN, EXPORT_SESSION = 0, 1, 2  # what an export job ends, weakest first


@dataclass
class _Session:
    history: SessionHistory
    used: float
    unresolved: dict[str, tuple[str, dict[str, Any], bool]]  # made-up call id -> the decision to record
    # calls checked and not refused, until their PostToolUse: call id -> (tool, arguments, action)
    checked: OrderedDict[str, tuple[str, Any, str]] = field(default_factory=OrderedDict)
    # One call of a session at a time; other sessions do not wait for it (a first read of a long transcript
    # takes seconds).
    lock: threading.Lock = field(default_factory=threading.Lock)


class HookService:
    def __init__(self, *, state_dir: str | None = None, exporter: SpanExporter | None = None,
                 settings: Settings | None = None, export: bool = True,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.state_dir = state_dir or client.state_dir()
        self.state_path = os.path.join(self.state_dir, "watch-state.json")
        self.settings = settings or Settings.from_env()
        self.builder = SpanBuilder(self.settings)
        self.decisions = GuardDecisions(self.state_dir)
        self.policies = Policies()
        self.clock = clock
        self._lock = threading.Lock()  # the sessions table; each session has its own lock for its calls
        self._sessions: OrderedDict[tuple[str, str], _Session] = OrderedDict()
        self._exporter = exporter
        self._export = export and exporter is not None
        self._jobs: OrderedDict[str, tuple[str, str, int]] = OrderedDict()  # path -> (agent, session, mode)
        self._jobs_ready = threading.Condition()
        self._closing = False
        self._worker: threading.Thread | None = None
        self._busy = False
        self.exports = 0  # export jobs run (for the status command)
        self.exports_left_to_watch = 0

    # --- one hook call --------------------------------------------------------------------------------
    def handle(self, agent: str, event: str, policy: str, payload: bytes) -> Reply:
        try:
            hook = parse(agent, event, payload)
        except HookInputError as exc:
            return self._failed(agent, event, policy, str(exc))
        try:
            if hook.kind == PRE:
                return self._before_tool(hook, policy)
            feedback = self._after(hook, policy)
        except Exception as exc:  # a bug of ours: on_error, never the agent's problem
            logger.exception("otel-cot hooks: %s %s failed", agent, event)
            return self._failed(agent, event, policy, f"{type(exc).__name__}: {exc}", hook)
        if feedback:
            return (*client.render(agent, event, client.FEEDBACK, feedback), b"")
        return (*client.render(agent, event, client.ALLOW), b"")

    def _failed(self, agent: str, event: str, policy: str, error: str, hook: HookInput | None = None) -> Reply:
        """No judgement was possible: ``on_error`` of the policy file decides; the error is logged and, for a
        pending call, recorded as its decision."""
        closed = client.policy_fails_closed(policy)
        client.log_error(f"{agent} {event}: {error}; {'denied (on_error: closed)' if closed else 'allowed'}")
        reason = f"the otel-cot guard could not judge this call ({error}) and fails closed"
        if hook is not None and hook.kind == PRE:
            decision = Decision(tool=hook.tool_name or "tool", outcome=BLOCKED if closed else ALLOWED,
                                action=BLOCK if closed else LOG, rule=f"on_error:{'closed' if closed else 'open'}",
                                error=error[:512], reason=reason if closed else "")
            try:
                with self._lock:
                    session = self._session(hook)
                with session.lock:
                    call_id = session.history.call_id(decision.tool, hook.tool_input, hook.tool_use_id)
                    self._record(session, hook, call_id, decision.tool, decision, asked=False)
            except Exception:
                logger.exception("otel-cot hooks: recording the failure of %s failed", hook.tool_name)
        if closed:
            return (*client.render(agent, event, client.DENY, reason), b"")
        return (*client.render(agent, event, client.ALLOW), b"")

    def _before_tool(self, hook: HookInput, policy: str) -> Reply:
        try:
            guard = self.policies.guard(policy)
        except PolicyError as exc:
            return self._failed(hook.agent, hook.event, policy, str(exc), hook)
        with self._lock:
            session = self._session(hook)
        with session.lock:
            problem = None
            try:
                session.history.refresh(guard)
            except TranscriptError as exc:
                problem = str(exc)
            except Exception as exc:
                logger.exception("otel-cot hooks: reading %s failed", hook.transcript_path)
                problem = f"reading the transcript failed: {type(exc).__name__}: {exc}"
            tool, arguments = span_arguments(hook.tool_name or "tool", tool_arguments(hook))
            call_id = session.history.call_id(tool, arguments, hook.tool_use_id)
            scope = Scope(hook.agent, hook.session_id)
            span = NonRecordingSpan(SpanContext(session.history.trace_id, tool_span_id(scope, call_id),
                                                is_remote=False, trace_flags=TraceFlags(TraceFlags.SAMPLED)))
            decision = guard.check(tool, arguments, call_id=call_id, span=span)
            if problem is not None:
                decision = _with_problem(decision, problem, guard.policy.fail_closed)
            if decision.outcome == BLOCKED:
                verdict, reason = client.DENY, decision.message
            elif decision.action == ASK:
                verdict, reason = client.ASK, _ask_reason(decision)
            else:
                verdict, reason = client.ALLOW, ""
            self._record(session, hook, call_id, tool, decision, asked=verdict == client.ASK)
            if verdict != client.DENY:
                session.checked[call_id] = (tool, arguments, decision.action)
                while len(session.checked) > MAX_CHECKED:
                    session.checked.popitem(last=False)
        if problem is not None:
            client.log_error(f"{hook.agent} {hook.event} {tool}: {problem}; "
                             f"{'allowed' if decision.allowed else 'denied'} ({decision.rule})")
        if verdict != client.ALLOW:
            client.log_error(f"{hook.agent} {hook.event} {tool} call {call_id}: {verdict}: {reason}")
        return (*client.render(hook.agent, hook.event, verdict, reason), b"")

    def _record(self, session: _Session, hook: HookInput, call_id: str, tool: str, decision: Decision,
                asked: bool) -> None:
        attributes = decision_attributes(decision)
        call_signature = None
        if call_id.startswith("hook-"):  # Gemini CLI: the file gives the call its id later
            session.unresolved[call_id] = (tool, attributes, asked)
            call_signature = session.history.signature_of(call_id)
        try:
            self.decisions.record(hook.agent, hook.session_id, call_id, tool, attributes, asked=asked,
                                  call_signature=call_signature)
        except OSError as exc:
            logger.error("otel-cot hooks: cannot record the decision on %s: %s", call_id, exc)

    def _after(self, hook: HookInput, policy: str) -> str | None:
        """After a tool call, at the end of an answer or of the session: what the file now says is read (so
        the next check sees it, and calls checked under a made-up id get the file's), then exported. After a
        tool call, the feedback for the model when the call, judged again with the reasoning now on file,
        is one the policy refuses (:meth:`_review`)."""
        feedback = None
        with self._lock:
            session = self._session(hook)
        with session.lock:
            guard = None
            try:
                guard = self.policies.guard(policy)
                session.history.refresh(guard)
            except (PolicyError, TranscriptError) as exc:
                logger.info("otel-cot hooks: %s %s: %s", hook.agent, hook.event, exc)
            if hook.kind == POST and guard is not None:
                feedback = self._review(hook, session, guard)
            self._record_resolved(hook, session, final=hook.kind == SESSION_END)
        if hook.kind == SESSION_END:
            with self._lock:
                self._sessions.pop((hook.agent, hook.session_id), None)
        if hook.transcript_path:
            mode = {POST: EXPORT_READ, TURN_END: EXPORT_TURN, SESSION_END: EXPORT_SESSION}[hook.kind]
            if hook.kind == TURN_END and hook.agent in NO_SESSION_END:
                mode = EXPORT_SESSION  # no hook will say the session ended: the root goes with the first answer
            self.schedule_export(hook.agent, hook.session_id, hook.transcript_path, mode)
        return feedback

    def _review(self, hook: HookInput, session: _Session, guard: Guard) -> str | None:
        """A call the check let through, judged again now that its reasoning is on file (Claude Code writes it
        only after PreToolUse): when the policy refuses it now, the model is told at once, before it builds on
        the call (the call itself has run)."""
        tool, arguments = span_arguments(hook.tool_name or "tool", tool_arguments(hook))
        call_id = hook.tool_use_id or next((cid for cid, (t, a, _) in session.checked.items()
                                            if t == tool and signature(t, a) == signature(tool, arguments)), None)
        entry = session.checked.pop(call_id, None) if call_id else None
        if entry is None or entry[2] == BLOCK:
            return None
        scope = Scope(hook.agent, hook.session_id)
        span = NonRecordingSpan(SpanContext(session.history.trace_id, tool_span_id(scope, call_id),
                                            is_remote=False, trace_flags=TraceFlags(TraceFlags.SAMPLED)))
        review = guard.review(entry[0], entry[1], call_id=call_id, span=span)
        if review.outcome != BLOCKED or review.finding is None or review.error:
            return None
        finding = review.finding
        client.log_error(f"{hook.agent} {hook.event} {tool} call {call_id}: judged after it ran: {finding.explanation} "
                         f"({finding.category}, {finding.severity}, rule {review.rule})")
        return (f"The otel-cot guard judged this call again after it ran, with the reasoning that led to it: "
                f"{finding.explanation} ({finding.category}, {finding.severity}, rule {review.rule}). The policy "
                f"refuses such calls: undo what it changed, and do not go on from it.")

    def _record_resolved(self, hook: HookInput, session: _Session, *, final: bool) -> None:
        for made_up, (tool, attributes, asked) in list(session.unresolved.items()):
            call_id = session.history.resolve(made_up)
            if call_id != made_up or final:
                del session.unresolved[made_up]
                self.decisions.record(hook.agent, hook.session_id, call_id, tool, attributes, asked=asked)

    def _session(self, hook: HookInput) -> _Session:
        now = self.clock()
        sessions = self._sessions
        while sessions:
            oldest = next(iter(sessions.values()))
            if now - oldest.used <= HISTORY_AGE_S and len(sessions) <= MAX_SESSIONS:
                break
            sessions.popitem(last=False)
        key = (hook.agent, hook.session_id)
        session = sessions.get(key)
        if session is None or session.history.path != hook.transcript_path:
            session = sessions[key] = _Session(SessionHistory(hook.agent, hook.session_id, hook.transcript_path,
                                                              self.builder), now, {})
        sessions.move_to_end(key)
        session.used = now
        return session

    # --- exporting --------------------------------------------------------------------------------------------
    def schedule_export(self, agent: str, session: str, path: str, mode: int) -> None:
        if not self._export:
            return
        with self._jobs_ready:
            previous = self._jobs.pop(path, None)
            self._jobs[path] = (agent, session, max(mode, previous[2]) if previous else mode)
            if self._worker is None:
                self._worker = threading.Thread(target=self._work, name="otel-cot-hooks-export", daemon=True)
                self._worker.start()
            self._jobs_ready.notify()

    def wait_exported(self, timeout: float = 10.0) -> bool:
        """Wait until no export job is queued or running (for tests and shutdown)."""
        deadline = time.monotonic() + timeout
        with self._jobs_ready:
            while self._jobs or self._busy:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._jobs_ready.wait(remaining)
        return True

    def _work(self) -> None:
        while True:
            with self._jobs_ready:
                while not self._jobs and not self._closing:
                    self._jobs_ready.wait()
                if not self._jobs:
                    return
                path, (agent, session, mode) = self._jobs.popitem(last=False)
                self._busy = True
            try:
                self.export_now(agent, session, path, mode)
            except Exception:
                logger.exception("otel-cot hooks: exporting %s failed", path)
            finally:
                with self._jobs_ready:
                    self._busy = False
                    self._jobs_ready.notify_all()

    def export_now(self, agent: str, session: str, path: str, mode: int) -> bool:
        """Export the session file's new records (and, per ``mode``, its open turn or its whole end). False when
        ``watch`` holds the lease (it exports them) or the backend refused them (they are sent next time)."""
        from otel_cot.coding_agents.watch import Watcher

        lease = ExportLease(self.state_path)
        files = [path, *_subagent_files(agent, session, path)]
        if not lease.acquire(wait=False):
            self.exports_left_to_watch += 1
            try:
                for name in files:  # so that watch follows them, wherever they are
                    note_hook_session(self.state_path, agent, name)
            except OSError as exc:
                logger.error("otel-cot hooks: cannot name %s to otel-cot watch: %s", path, exc)
            return False
        try:
            watcher = Watcher({}, self._exporter, state_path=self.state_path,  # type: ignore[arg-type]
                              settings=self.settings, decisions=self.decisions)
            for name in files:
                watcher.track(agent, name)
            ok = watcher.step()
            if ok and mode != EXPORT_READ:
                for name in reversed(files):  # the subagents' files first: the session's root goes last
                    ok = watcher.end_file(name, root=mode == EXPORT_SESSION) and ok
            self.exports += 1
            if not ok:
                logger.warning("otel-cot hooks: the spans of %s could not be exported; sent again next time", path)
            return ok
        finally:
            lease.release()

    def close(self, timeout: float = 10.0) -> None:
        self.wait_exported(timeout)
        with self._jobs_ready:
            self._closing = True
            self._jobs_ready.notify_all()
        if self._exporter is not None:
            try:
                self._exporter.shutdown()
            except Exception:
                logger.exception("otel-cot hooks: exporter shutdown failed")


def _subagent_files(agent: str, session: str, path: str) -> list[str]:
    """Claude Code 2.1.x writes each subagent's transcript to ``<session>/subagents/agent-<id>.jsonl``."""
    if agent != CLAUDE_CODE:
        return []
    return sorted(glob.glob(os.path.join(glob.escape(os.path.dirname(path)), glob.escape(session),
                                         "subagents", "*.jsonl")))


def _with_problem(decision: Decision, problem: str, fail_closed: bool) -> Decision:
    """The decision when the history could not be read: a call the guard denies stays denied; otherwise the
    policy's ``on_error`` decides."""
    if decision.outcome == BLOCKED:
        return replace(decision, error=decision.error or problem)
    if fail_closed:
        return replace(decision, outcome=BLOCKED, action=BLOCK, rule="on_error:closed", error=problem,
                       reason=f"the otel-cot guard could not read this session's history ({problem}) and "
                              f"fails closed")
    return replace(decision, error=problem, rule=decision.rule or "on_error:open")


def _ask_reason(decision: Decision) -> str:
    finding = decision.finding
    if finding is None:
        return "the otel-cot guard asks for confirmation"
    return (f"otel-cot guard: {finding.explanation} ({finding.category}, {finding.severity}, "
            f"rule {decision.rule})")
