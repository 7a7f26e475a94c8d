"""The guard: judge a pending tool call with the trace's recent history and apply the policy.

    guard = Guard(policy)
    decision = guard.check("bash", {"command": "git push --force"})   # or: await guard.acheck(...)

It returns the decision and writes no span: the instrumentation records it (``otel_cot.check_tool_call``).

Detectors are the engine's (pure functions of a view and a ``TraceContext``), run inline on the caller's
thread: a thread hand-off would cost more than the rules themselves. The time budget (``timeout_ms``) is
checked between detectors, so a check overruns it by at most one detector's run.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import json
import logging
import time
from typing import Any, Mapping

from opentelemetry import trace
from opentelemetry.trace import Span

from .. import semconv as sc
from .. import textscan
from ..detectors.base import KIND_TOOL_CALL, Detector, Finding, SpanView, severity_rank
from ..detectors.views import MAX_VIEW_CHARS, dedupe_key
from ..internal_errors import report_internal_error
from ..runtime import runtime
from ..values import plain
from .decision import ACTIONS, ALLOWED, ASK, ASKED_ALLOWED, ASKED_DENIED, BLOCK, BLOCKED, AskRequest, Decision
from .paths import allows, resolve, simple_commands, touched_paths
from .policy import Policy, allowed_tool
from .recorder import DetectorFailed, GuardTimeout, Recorder, judge
from .workspace import WorkspaceDetector

logger = logging.getLogger("otel_cot.guard")

MAX_ARGUMENT_CHARS = 100_000  # the pending call's arguments beyond this are not read


def arguments_text(arguments: Any) -> str:
    if arguments is None:
        return ""
    if isinstance(arguments, str):
        return arguments[:MAX_ARGUMENT_CHARS]
    return json.dumps(plain(arguments), ensure_ascii=False, default=str)[:MAX_ARGUMENT_CHARS]


def _detectors_for(policy: Policy) -> list[Detector]:
    from ..detectors.registry import default_detectors, load_detectors

    spec = policy.detectors
    if spec is None:
        detectors = default_detectors()
    elif isinstance(spec, Mapping):
        detectors = load_detectors(spec, base_dir=policy.base_dir)
    else:
        detectors = list(spec)
    if policy.workspace:
        detectors.append(WorkspaceDetector(policy.workspace))
    return detectors


class Guard:
    """A policy, the detectors it runs, and the per-trace windows they read."""

    def __init__(self, policy: Policy, detectors: list[Detector] | None = None, **recorder_options: Any) -> None:
        self.policy = policy
        self.recorder = Recorder(detectors if detectors is not None else _detectors_for(policy),
                                 **recorder_options)
        textscan.warm()  # the detectors' compiled matcher: built now, not inside the first check's budget

    # --- the check -----------------------------------------------------------------------
    def check(self, name: str, arguments: Any = None, *, call_id: str | None = None,
              span: Span | None = None) -> Decision:
        """Judge a pending call and apply the policy; an ``ask`` callback is called (and awaited if async)."""
        started = time.perf_counter()
        decision, request = self._decide(name, arguments, call_id, span, started)
        if request is not None:
            decision = self._asked(decision, request, _call_sync(self.policy.ask, request))
        return decision

    async def acheck(self, name: str, arguments: Any = None, *, call_id: str | None = None,
                     span: Span | None = None) -> Decision:
        started = time.perf_counter()
        decision, request = self._decide(name, arguments, call_id, span, started)
        if request is not None:
            decision = self._asked(decision, request, await _call_async(self.policy.ask, request))
        return decision

    def review(self, name: str, arguments: Any = None, *, call_id: str | None = None,
               span: Span | None = None) -> Decision:
        """Judge a call that already ran against the trace's history as it is now, without adding the call to
        the window again: for agents whose reasoning reaches the guard only after the call was checked (Claude
        Code writes a message after its PreToolUse hooks ran). The policy's action is reported as it would
        have applied; no ask callback is called. Failures give ``on_error``'s decision, as ``check``."""
        started = time.perf_counter()
        try:
            return self._evaluate(name, arguments, call_id, span, started, record=False)
        except Exception as exc:
            if not isinstance(exc, (GuardTimeout, DetectorFailed)):
                report_internal_error("guard review", exc)
            return self._on_error(name, exc, started)

    def _decide(self, name: str, arguments: Any, call_id: str | None, span: Span | None,
                started: float) -> tuple[Decision, AskRequest | None]:
        try:
            decision = self._evaluate(name, arguments, call_id, span, started)
        except Exception as exc:  # the guard failed: on_error decides; never the user's problem
            if not isinstance(exc, (GuardTimeout, DetectorFailed)):
                report_internal_error("guard check", exc)
            return self._on_error(name, exc, started), None
        if decision.action != ASK or decision.finding is None:
            return decision, None
        if self.policy.ask is None:
            logger.warning("otel-cot guard: rule %s asks, but no ask callback is configured; blocking",
                           decision.rule)
            return _replace(decision, outcome=BLOCKED, reason="the policy asks for approval and no one can "
                            "be asked (no ask callback configured)"), None
        return decision, AskRequest(name, arguments, decision.finding, decision.rule or "", decision.findings)

    def _evaluate(self, name: str, arguments: Any, call_id: str | None, span: Span | None,
                  started: float, record: bool = True) -> Decision:
        policy = self.policy
        deadline = started + policy.timeout_ms / 1000.0
        span_context = (span or trace.get_current_span()).get_span_context()
        trace_id = span_context.trace_id if span_context.is_valid else _rootless_trace()
        text = arguments_text(arguments)
        view = SpanView(kind=KIND_TOOL_CALL, text=text[:MAX_VIEW_CHARS], tool=name, arguments=text,
                        trace_id=format(trace_id, "032x"),
                        span_id=format(span_context.span_id, "016x") if span_context.is_valid else "",
                        tool_call_id=call_id, location=sc.GEN_AI_TOOL_CALL_ARGUMENTS)
        recorder = self.recorder
        with recorder.lock:
            ctx = recorder.context(trace_id, deadline)
            findings = judge(recorder.detectors, view, ctx, deadline, strict=record)
            if record:
                key = dedupe_key(view)
                if key is not None:
                    ctx.mark_seen(key)
                ctx.add(view)
        allow_rule = self._allow_listed(name, view)
        duration = (time.perf_counter() - started) * 1000.0
        if allow_rule is not None or not findings:
            return Decision(tool=name, rule=allow_rule, findings=tuple(findings), duration_ms=duration,
                            finding=_strongest(findings, None))
        action, rule, finding = "log", None, None
        for f in sorted(findings, key=lambda f: -severity_rank(f.severity)):
            a, r = policy.action_for(f, name)
            if finding is None or ACTIONS.index(a) > ACTIONS.index(action):
                action, rule, finding = a, r, f
        outcome = BLOCKED if action == BLOCK else ALLOWED
        return Decision(tool=name, outcome=outcome, action=action, rule=rule, findings=tuple(findings),
                        finding=finding, duration_ms=duration)

    def _allow_listed(self, name: str, view: SpanView) -> str | None:
        allow = self.policy.allow
        pattern = allowed_tool(allow, name)
        if pattern is not None:
            return f"allow.tools:{pattern}"
        commands = simple_commands(view) if (allow.commands or allow.paths) else None
        if allow.commands and commands:
            matched = [_command_pattern(argv, allow.commands) for argv in commands]
            if all(m is not None for m in matched):
                return "allow.commands:" + ",".join(dict.fromkeys(m for m in matched if m))
        if allow.paths:
            paths = touched_paths(view, commands)
            if paths:
                root = self.policy.root
                patterns = [resolve(p, root) + ("/**" if p.endswith("/**") else "") for p in allow.paths]
                patterns = [p[:-6] + "/**" if p.endswith("/**/**") else p for p in patterns]
                workspace = self.policy.workspace
                if all(any(allows(pat, resolve(p, root), workspace) for pat in patterns) for p in paths):
                    return "allow.paths"
        return None

    def _on_error(self, name: str, exc: BaseException, started: float) -> Decision:
        error = f"{type(exc).__name__}: {exc}"[:512]
        duration = (time.perf_counter() - started) * 1000.0
        if self.policy.fail_closed:
            return Decision(tool=name, outcome=BLOCKED, action=BLOCK, rule="on_error:closed", duration_ms=duration,
                            error=error, reason=f"the guard could not judge this call ({error}) and fails closed")
        return Decision(tool=name, rule="on_error:open", duration_ms=duration, error=error)

    def _asked(self, decision: Decision, request: AskRequest, answer: Any) -> Decision:
        if isinstance(answer, BaseException):
            failed = self._on_error(decision.tool, answer, time.perf_counter())
            return _replace(decision, outcome=failed.outcome, error=failed.error, reason=failed.reason,
                            rule=f"{decision.rule}; {failed.rule}")
        if answer is True:
            return _replace(decision, outcome=ASKED_ALLOWED)
        return _replace(decision, outcome=ASKED_DENIED, reason=f"{request.finding.explanation}; the user declined")

    # --- what the instrumentation feeds in ---------------------------------------------------
    def observe_model_call(self, span: Span, input_messages: Any, output_messages: Any) -> None:
        from ..detectors.views import SpanRecord

        ctx = span.get_span_context()
        attributes: dict[str, Any] = {}
        if input_messages:
            attributes[sc.GEN_AI_INPUT_MESSAGES] = input_messages
        if output_messages:
            attributes[sc.GEN_AI_OUTPUT_MESSAGES] = output_messages
        if attributes:
            self.recorder.add_record(ctx.trace_id, SpanRecord(format(ctx.trace_id, "032x"),
                                                              format(ctx.span_id, "016x"), "", attributes))

    def observe_tool_result(self, span: Span, name: str | None, call_id: str | None, result: Any,
                            error: bool) -> None:
        ctx = span.get_span_context()
        text = arguments_text(result)
        if not text:
            return
        self.recorder.add_view(ctx.trace_id, SpanView(
            kind="tool_result", text=text, tool=name, tool_call_id=call_id, error="tool_error" if error else None,
            trace_id=format(ctx.trace_id, "032x"), span_id=format(ctx.span_id, "016x"),
            location=sc.GEN_AI_TOOL_CALL_RESULT))


def _replace(decision: Decision, **changes: Any) -> Decision:
    from dataclasses import replace

    return replace(decision, **changes)


def _strongest(findings: list[Finding], default: Finding | None) -> Finding | None:
    return max(findings, key=lambda f: severity_rank(f.severity), default=default)


def _command_pattern(argv: list[str], patterns: tuple[str, ...]) -> str | None:
    import fnmatch

    line = " ".join(argv)
    return next((p for p in patterns if fnmatch.fnmatchcase(line, p)), None)


def _rootless_trace() -> int:
    return runtime.pending.last_rootless_trace() or 0


# --- ask callbacks: sync or async, from sync or async code ---------------------------------------
def _call_sync(callback: Any, request: AskRequest) -> Any:
    """The callback's answer, or the exception it raised (returned, so on_error can decide)."""
    try:
        answer = callback(request)
        if inspect.isawaitable(answer):
            answer = _run_coroutine(answer)
        return answer
    except Exception as exc:
        return exc


async def _call_async(callback: Any, request: AskRequest) -> Any:
    try:
        answer = callback(request)
        if inspect.isawaitable(answer):
            answer = await answer
        return answer
    except Exception as exc:
        return exc


def _run_coroutine(awaitable: Any) -> Any:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(_await(awaitable))
    # A sync tool called from async code: the running loop cannot be re-entered, so the async callback
    # gets its own loop on a helper thread while this thread waits.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="otel-cot-guard-ask") as pool:
        return pool.submit(asyncio.run, _await(awaitable)).result()


async def _await(awaitable: Any) -> Any:
    return await awaitable
