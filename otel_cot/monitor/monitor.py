"""``cot.monitor``: a judge model reads a window of a trace and its verdict becomes findings.

One judgement (:meth:`Monitor.judge_views`), synchronous, on the caller's thread: build the window,
look it up in the cache, check the budgets, call the judge, parse the verdict strictly (one retry with
the problem stated when the answer is malformed or its evidence is not in the window), turn each
finding into a :class:`~otel_cot.detectors.base.Finding` on the span its evidence was quoted from.
What happened is an :class:`Outcome`; nothing here raises for a judge's failure: a timeout, a refusal,
a rate limit or a malformed answer is an error counted in :class:`MonitorStats`, never a finding.

The asynchronous use (spans in, late findings out) is :mod:`.runner`.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
import zlib
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Sequence

from .. import semconv
from ..detectors.base import CATEGORIES, Finding, SpanView
from .budget import Budget
from .config import MonitorConfig
from .judges import Judge, JudgeError, JudgeReply, make_judge
from .prompt import Prompt, load_prompt
from .verdict import MalformedVerdict, VerdictFinding, parse_verdict, unlocated_problem
from .window import Window, build_window, estimate_tokens

logger = logging.getLogger("otel_cot.monitor")

MONITOR_ID = "cot.monitor"
MONITOR_VERSION = "1"
MECHANISM = "judge_verdict"  # cot.finding.mechanism of every monitor finding
MAX_EXPLANATION_CHARS = 300
MAX_EVIDENCE_CHARS = 240

# Triggers (why a trace was judged).
EVERY_TRACE = "every_trace"
FLAGGED = "flagged"
SAMPLED = "sampled"


@dataclass(frozen=True)
class Outcome:
    """What one judgement did. ``status``: ``judged``, ``cached``, ``skipped`` (``reason``: ``empty``,
    ``budget:<name>``, ``rate_limited``) or ``error`` (``reason``: ``timeout``, ``rate_limited``,
    ``api_error``, ``connection``, ``malformed``, ``internal``)."""

    trace_id: str
    status: str
    reason: str = ""
    findings: tuple[Finding, ...] = ()
    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    seconds: float = 0.0
    window_tokens: int = 0
    trigger: str = ""


@dataclass
class MonitorStats:
    """Counters for metrics and the CLI (every field is cumulative)."""

    windows: int = 0
    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    judge_seconds: float = 0.0
    cache_hits: int = 0
    findings: Counter = field(default_factory=Counter)  # category -> findings
    skipped: Counter = field(default_factory=Counter)  # reason -> windows not judged
    errors: Counter = field(default_factory=Counter)  # kind -> windows whose judgement failed (+ dropped evidence)
    verdicts: Counter = field(default_factory=Counter)  # confirmed / dismissed (rule categories), flagged / clean

    def as_dict(self) -> dict[str, Any]:
        return {"windows": self.windows, "calls": self.calls, "input_tokens": self.input_tokens,
                "output_tokens": self.output_tokens, "judge_seconds": round(self.judge_seconds, 3),
                "cache_hits": self.cache_hits, "findings": dict(self.findings), "skipped": dict(self.skipped),
                "errors": dict(self.errors), "verdicts": dict(self.verdicts)}


def sampled(trace_id: str, fraction: float) -> bool:
    """Whether ``trace_id`` falls in ``fraction`` of all traces (the same answer in every process)."""
    if fraction <= 0:
        return False
    if fraction >= 1:
        return True
    return zlib.crc32(trace_id.encode()) < fraction * 2**32


class _Cache:
    """Verdicts by window content (with judge and prompt), least recently used dropped first."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._data: OrderedDict[str, tuple[VerdictFinding, ...]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> tuple[VerdictFinding, ...] | None:
        with self._lock:
            found = self._data.get(key)
            if found is not None:
                self._data.move_to_end(key)
            return found

    def put(self, key: str, verdict: tuple[VerdictFinding, ...]) -> None:
        if self._size <= 0:
            return
        with self._lock:
            self._data[key] = verdict
            self._data.move_to_end(key)
            while len(self._data) > self._size:
                self._data.popitem(last=False)


class _Call:
    """Tokens, calls and time of one judgement (one or two requests)."""

    def __init__(self) -> None:
        self.calls = 0
        self.tokens_in = 0
        self.tokens_out = 0
        self.seconds = 0.0
        self.model: str | None = None


class Monitor:
    """Judges windows of traces with ``judge`` (built from ``config`` when None). Thread-safe: the
    asynchronous runner calls :meth:`judge_views` from several worker threads."""

    id = MONITOR_ID
    version = MONITOR_VERSION
    categories = CATEGORIES

    def __init__(self, config: MonitorConfig, judge: Judge | None = None, prompt: Prompt | None = None, *,
                 clock: Callable[[], float] = time.time, sleep: Callable[[float], None] = time.sleep) -> None:
        self.config = config
        self.judge = judge if judge is not None else make_judge(config)
        self.prompt = prompt if prompt is not None else load_prompt(config.prompt)
        self.budget = Budget(config.budgets, clock=clock)
        self.stats = MonitorStats()
        self._cache = _Cache(config.cache_size)
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._not_before = 0.0  # no call before this time (a 429's Retry-After)
        self._cache_salt = f"{self.judge.provider}\0{config.base_url}\0{self.judge.model}\0{self.prompt.version}\0"

    # --- policy ---------------------------------------------------------------------------------------
    def trigger(self, trace_id: str, rule_categories: Iterable[str] = ()) -> str | None:
        """Why this trace should be judged (``flagged``, ``every_trace``, ``sampled``), or None."""
        triggers = self.config.triggers
        if triggers.flagged and any(True for _ in rule_categories):
            return FLAGGED
        if triggers.every_trace:
            return EVERY_TRACE
        if sampled(trace_id, triggers.sample):
            return SAMPLED
        return None

    # --- one judgement --------------------------------------------------------------------------------
    def window(self, views: Iterable[SpanView], trace_id: str = "") -> Window:
        return build_window(list(views), self.config.window_tokens, trace_id)

    def judge_views(self, trace_id: str, views: Iterable[SpanView], rule_categories: Iterable[str] = (),
                    trigger: str = EVERY_TRACE) -> Outcome:
        return self.judge_window(self.window(views, trace_id), rule_categories, trigger)

    def judge_trace(self, trace_id: str, views: Iterable[SpanView], rule_findings: Iterable[Finding] = (),
                    force: bool = False) -> Outcome | None:
        """Judge one finished trace if the trigger policy says so (always with ``force``); None when the
        policy leaves it out (counted as skipped, reason ``not_triggered``)."""
        rules = rule_categories(rule_findings)
        trigger = EVERY_TRACE if force else self.trigger(trace_id, rules)
        if trigger is None:
            self.count_skip("not_triggered")
            return None
        return self.judge_views(trace_id, views, rules, trigger)

    def count_skip(self, reason: str, n: int = 1) -> int:
        """Count ``n`` traces not judged for ``reason``; the count so far."""
        with self._lock:
            self.stats.skipped[reason] += n
            return self.stats.skipped[reason]

    def judge_window(self, window: Window, rule_categories: Iterable[str] = (),
                     trigger: str = EVERY_TRACE) -> Outcome:
        rules = frozenset(rule_categories)
        with self._lock:
            self.stats.windows += 1
        if not window.judgeable:
            return self._skip(window, "empty", trigger)
        key = hashlib.sha256((self._cache_salt + window.text).encode("utf-8", "surrogatepass")).hexdigest()
        cached = self._cache.get(key)
        if cached is not None:
            with self._lock:
                self.stats.cache_hits += 1
            findings = self._findings(window, cached, rules, trigger, self.judge.model)
            return self._done(window, "cached", findings, _Call(), rules, trigger)
        request = self.prompt.request(window, self.categories)
        call = _Call()
        try:
            verdict = self._verdict(window, request, call)
        except _Skip as skip:
            return self._skip(window, skip.reason, trigger, call)
        except JudgeError as exc:
            return self._error(window, exc.kind, str(exc), call, trigger)
        except MalformedVerdict as exc:
            return self._error(window, "malformed", str(exc), call, trigger)
        except Exception as exc:  # a bug of ours or an error the SDK raised unwrapped: one verdict lost
            logger.exception("otel-cot monitor: judging trace %s failed", window.trace_id)
            return self._error(window, "internal", f"{type(exc).__name__}: {exc}", call, trigger)
        self._cache.put(key, verdict)
        findings = self._findings(window, verdict, rules, trigger, call.model or self.judge.model)
        return self._done(window, "judged", findings, call, rules, trigger)

    def _verdict(self, window: Window, request: str, call: _Call) -> tuple[VerdictFinding, ...]:
        """The located findings of the judge's verdict, asking once more if the answer cannot be used."""
        reply = self._ask(request, call)
        try:
            first = parse_verdict(reply.content, window)
        except MalformedVerdict as exc:
            reply = self._ask(self.prompt.retry_request(request, str(exc)), call)
            return self._located(parse_verdict(reply.content, window))
        problem = unlocated_problem(first)
        if problem is None:
            return tuple(first)
        try:
            reply = self._ask(self.prompt.retry_request(request, problem), call)
            second = parse_verdict(reply.content, window)
        except (MalformedVerdict, JudgeError, _Skip) as exc:  # keep what the first answer showed
            logger.debug("otel-cot monitor: second answer unusable (%s); keeping the first's located findings", exc)
            second = first
        return self._located(second)

    def _located(self, findings: list[VerdictFinding]) -> tuple[VerdictFinding, ...]:
        dropped = sum(1 for f in findings if f.located is None)
        if dropped:
            self._count_error("evidence_not_in_window", f"{dropped} finding(s) quoted evidence not in the window",
                              dropped)
        return tuple(f for f in findings if f.located is not None)

    def _ask(self, request: str, call: _Call) -> JudgeReply:
        """One request (and, after a 429 whose Retry-After is short enough, one more)."""
        estimate = estimate_tokens(self.prompt.system) + estimate_tokens(request) + self.config.max_output_tokens
        for attempt in (1, 2):
            self._wait_turn()
            refused = self.budget.admit(estimate)
            if refused is not None:
                raise _Skip(f"budget:{refused}")
            started = time.monotonic()
            call.calls += 1
            try:
                reply = self.judge.complete(self.prompt.system, request, self.prompt.schema)
            except JudgeError as exc:
                call.seconds += time.monotonic() - started
                self.budget.settle(estimate, estimate if exc.kind == "timeout" else 0)
                if exc.kind != "rate_limited" or attempt == 2:
                    raise
                wait = exc.retry_after if exc.retry_after is not None else 1.0
                self._pause(wait)
                if wait > self.config.max_retry_after_s:
                    raise
                continue
            call.seconds += time.monotonic() - started
            tokens_in = reply.input_tokens if reply.input_tokens is not None else \
                estimate - self.config.max_output_tokens
            tokens_out = reply.output_tokens if reply.output_tokens is not None else \
                estimate_tokens(reply.content if isinstance(reply.content, str) else str(reply.content))
            call.tokens_in += tokens_in
            call.tokens_out += tokens_out
            call.model = reply.model or call.model
            self.budget.settle(estimate, tokens_in + tokens_out)
            return reply
        raise AssertionError("unreachable")  # pragma: no cover

    def _pause(self, seconds: float) -> None:
        with self._lock:
            self._not_before = max(self._not_before, self._clock() + seconds)

    def _wait_turn(self) -> None:
        with self._lock:
            wait = self._not_before - self._clock()
        if wait > self.config.max_retry_after_s:
            raise _Skip("rate_limited")
        if wait > 0:
            self._sleep(wait)

    # --- results --------------------------------------------------------------------------------------
    def _findings(self, window: Window, verdict: Sequence[VerdictFinding], rules: frozenset[str], trigger: str,
                  model: str) -> tuple[Finding, ...]:
        out = []
        for v in verdict:
            item = window.item(v.located.number) if v.located is not None else None
            if item is None:
                continue
            view = item.view
            extra: dict[str, Any] = {
                semconv.COT_MONITOR_JUDGE_MODEL: model,
                semconv.COT_MONITOR_JUDGE_PROVIDER: self.judge.provider,
                semconv.COT_MONITOR_PROMPT_VERSION: self.prompt.version,
                semconv.COT_MONITOR_TRIGGER: trigger,
            }
            if rules:
                extra[semconv.COT_MONITOR_CONFIRMS_RULE] = v.category in rules
            response_id = (view.attributes or {}).get(semconv.GEN_AI_RESPONSE_ID)
            if isinstance(response_id, str) and response_id:
                extra[semconv.GEN_AI_RESPONSE_ID] = response_id
            out.append(Finding(
                detector_id=MONITOR_ID, detector_version=MONITOR_VERSION, category=v.category,
                severity=v.severity,  # type: ignore[arg-type]
                score=v.score, explanation=v.explanation[:MAX_EXPLANATION_CHARS],
                evidence=" ".join(v.evidence.split())[:MAX_EVIDENCE_CHARS], evidence_location=view.location,
                span_id=view.span_id, trace_id=view.trace_id or window.trace_id, mechanism=MECHANISM, extra=extra,
            ))
        return tuple(out)

    def _done(self, window: Window, status: str, findings: tuple[Finding, ...], call: _Call,
              rules: frozenset[str], trigger: str) -> Outcome:
        found = {f.category for f in findings}
        with self._lock:
            s = self.stats
            s.calls += call.calls
            s.input_tokens += call.tokens_in
            s.output_tokens += call.tokens_out
            s.judge_seconds += call.seconds
            s.findings.update(f.category for f in findings)
            s.verdicts["flagged" if findings else "clean"] += 1
            for category in rules:
                s.verdicts["confirmed" if category in found else "dismissed"] += 1
        return Outcome(window.trace_id, status, "", findings, call.calls, call.tokens_in, call.tokens_out,
                       call.seconds, window.tokens, trigger)

    def _skip(self, window: Window, reason: str, trigger: str, call: _Call | None = None) -> Outcome:
        call = call or _Call()
        with self._lock:
            self.stats.skipped[reason.split(":")[0]] += 1
            self._add_call(call)
        return Outcome(window.trace_id, "skipped", reason, (), call.calls, call.tokens_in, call.tokens_out,
                       call.seconds, window.tokens, trigger)

    def _error(self, window: Window, kind: str, message: str, call: _Call, trigger: str) -> Outcome:
        self._count_error(kind, message)
        with self._lock:
            self._add_call(call)
        return Outcome(window.trace_id, "error", kind, (), call.calls, call.tokens_in, call.tokens_out,
                       call.seconds, window.tokens, trigger)

    def _add_call(self, call: _Call) -> None:
        s = self.stats
        s.calls += call.calls
        s.input_tokens += call.tokens_in
        s.output_tokens += call.tokens_out
        s.judge_seconds += call.seconds

    def _count_error(self, kind: str, message: str, n: int = 1) -> None:
        with self._lock:
            self.stats.errors[kind] += n
            count = self.stats.errors[kind]
        if count == n or count % 100 < n:
            logger.warning("otel-cot monitor: %s (%s; %d so far); no finding is made from it", kind, message, count)


class _Skip(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def rule_categories(findings: Iterable[Finding]) -> frozenset[str]:
    """The categories rule detectors (every detector but the monitor) found."""
    return frozenset(f.category for f in findings if f.detector_id != MONITOR_ID)
