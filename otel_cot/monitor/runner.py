"""The monitor beside a span pipeline: spans in as they are exported, findings out when the judge answers.

:meth:`MonitorRunner.observe` is called with each batch of finished spans (and the rule detectors'
findings about them) on the exporting thread. It only files the spans' views under their trace, which
is cheap and never waits for a judge. A trace has ended when its root span (no parent) arrives, when
nothing new arrived for ``trace_idle`` or when it is pushed out of the ``max_traces`` held; then the
trigger policy decides whether it is judged, and a worker thread (``concurrency`` of them) judges it.
The findings go to ``deliver`` (or wait in :meth:`take`): by then the trace's spans have left, so the
host writes them as ``cot.finding`` spans, children of the spans they are about.

Bounded: at most ``max_traces`` traces held, each at most ``16 × window.max_tokens`` characters of views
(the oldest dropped first, the task kept), and at most ``queue_size`` traces waiting for a worker; a
trace that finds the queue full is counted as skipped (``queue_full``), never waited for.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field, replace
from typing import Callable, Iterable, Sequence

from .. import semconv
from ..detectors.base import KIND_SYSTEM, KIND_USER, Finding, SpanView
from ..detectors.views import SpanRecord, views_from_record
from .monitor import MONITOR_ID, Monitor, rule_categories

logger = logging.getLogger("otel_cot.monitor")

Deliver = Callable[[list[Finding]], None]
_TASK_VIEWS = 4
_JUDGED_MEMORY = 10_000


@dataclass
class _Trace:
    touched: float
    task: list[SpanView] = field(default_factory=list)
    views: deque = field(default_factory=deque)
    chars: int = 0
    rule_findings: list[Finding] = field(default_factory=list)

    def add(self, view: SpanView, max_chars: int) -> None:
        if view.kind in (KIND_USER, KIND_SYSTEM) and len(self.task) < _TASK_VIEWS and not self.views:
            self.task.append(view)
            return
        self.views.append(view)
        self.chars += len(view.text) + len(view.arguments or "")
        while self.chars > max_chars and len(self.views) > 1:
            old = self.views.popleft()
            self.chars -= len(old.text) + len(old.arguments or "")


def _slim(view: SpanView) -> SpanView:
    """The view without its span's attributes (a chat span's whole input history), except the response id
    a finding refers to."""
    response_id = (view.attributes or {}).get(semconv.GEN_AI_RESPONSE_ID)
    return replace(view, attributes={semconv.GEN_AI_RESPONSE_ID: response_id} if response_id else {})


class MonitorRunner:
    def __init__(self, monitor: Monitor, deliver: Deliver | None = None, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.monitor = monitor
        config = monitor.config
        self._deliver = deliver
        self._clock = clock
        self._idle = config.trace_idle_s
        self._max_traces = config.max_traces
        self._max_chars = config.window_tokens * 16
        self._traces: OrderedDict[str, _Trace] = OrderedDict()
        self._judged: OrderedDict[str, None] = OrderedDict()
        self._queue: queue.Queue = queue.Queue(maxsize=config.queue_size)
        self._late: list[Finding] = []
        self._lock = threading.Lock()
        self._idle_cond = threading.Condition(self._lock)
        self._pending = 0  # traces queued or being judged
        self._workers: list[threading.Thread] = []
        self._concurrency = config.concurrency
        self._stopping = threading.Event()

    # --- the exporting thread -------------------------------------------------------------------------
    def observe(self, records: Sequence[SpanRecord], findings: Iterable[Finding] = ()) -> None:
        """File finished spans (in the order they ended) and the rule findings about them; schedule every
        trace that ended. Never blocks on the judge."""
        now = self._clock()
        ended: list[tuple[str, _Trace]] = []
        with self._lock:
            for record in records:
                if record.name == semconv.COT_FINDING_SPAN_NAME or not record.trace_id:
                    continue
                trace_id = record.trace_id
                if trace_id in self._judged:
                    continue  # a straggler of a trace already judged
                trace = self._traces.get(trace_id)
                if trace is None:
                    trace = self._traces[trace_id] = _Trace(now)
                    while len(self._traces) > self._max_traces:
                        ended.append(self._end(next(iter(self._traces))))
                else:
                    self._traces.move_to_end(trace_id)
                    trace.touched = now
                for view in views_from_record(record):
                    trace.add(_slim(view), self._max_chars)
            for f in findings:
                trace = self._traces.get(f.trace_id)
                if trace is not None and f.detector_id != MONITOR_ID and len(trace.rule_findings) < 64:
                    trace.rule_findings.append(f)
            for record in records:
                if record.parent_span_id is None and record.trace_id in self._traces:
                    ended.append(self._end(record.trace_id))
            ended.extend(self._idle_traces(now))
        if not self._workers:
            self._start_workers()  # they also end idle traces
        self._schedule(ended)

    def _end(self, trace_id: str) -> tuple[str, _Trace]:
        """Under the lock: take a trace that ended, and remember it so that stragglers are not filed."""
        self._judged[trace_id] = None
        while len(self._judged) > _JUDGED_MEMORY:
            self._judged.popitem(last=False)
        return trace_id, self._traces.pop(trace_id)

    def _idle_traces(self, now: float) -> list[tuple[str, _Trace]]:
        out = []
        while self._traces:
            trace_id, trace = next(iter(self._traces.items()))
            if now - trace.touched < self._idle:
                break
            out.append(self._end(trace_id))
        return out

    def _schedule(self, ended: list[tuple[str, _Trace]]) -> None:
        for trace_id, trace in ended:
            rules = rule_categories(trace.rule_findings)
            trigger = self.monitor.trigger(trace_id, rules)
            if trigger is None:
                self.monitor.count_skip("not_triggered")
                continue
            self._start_workers()
            with self._lock:
                self._pending += 1
            try:
                self._queue.put_nowait((trace_id, [*trace.task, *trace.views], rules, trigger))
            except queue.Full:
                with self._lock:
                    self._pending -= 1
                count = self.monitor.count_skip("queue_full")
                if count == 1 or count % 1000 == 0:
                    logger.warning("otel-cot monitor: the judge is behind; trace %s not judged (queue of %d full; "
                                   "%d traces so far)", trace_id, self._queue.maxsize, count)

    # --- workers --------------------------------------------------------------------------------------
    def _start_workers(self) -> None:
        with self._lock:
            if self._workers or self._stopping.is_set():
                return
            for n in range(self._concurrency):
                thread = threading.Thread(target=self._work, name=f"otel-cot-monitor-{n}", daemon=True)
                self._workers.append(thread)
                thread.start()

    def _work(self) -> None:
        poll = max(0.05, min(1.0, self._idle / 2))
        while not self._stopping.is_set():
            try:
                trace_id, views, rules, trigger = self._queue.get(timeout=poll)
            except queue.Empty:
                with self._lock:
                    ended = self._idle_traces(self._clock())
                self._schedule(ended)
                continue
            try:
                outcome = self.monitor.judge_views(trace_id, views, rules, trigger)
                if outcome.findings:
                    self._hand_over(list(outcome.findings))
            except Exception:  # a bug here must cost one verdict, never the worker
                logger.exception("otel-cot monitor: judging trace %s failed", trace_id)
            finally:
                with self._lock:
                    self._pending -= 1
                    self._idle_cond.notify_all()

    def _hand_over(self, findings: list[Finding]) -> None:
        if self._deliver is not None:
            try:
                self._deliver(findings)
                return
            except Exception:
                logger.exception("otel-cot monitor: delivering %d findings failed; kept for take()", len(findings))
        with self._lock:
            self._late.extend(findings)

    # --- the host -------------------------------------------------------------------------------------
    def deliver_to(self, deliver: Deliver | None) -> None:
        """Where findings go from now on (None: they wait for :meth:`take`)."""
        self._deliver = deliver

    def take(self) -> list[Finding]:
        """Findings judged since the last call (when there is no ``deliver`` callback, or it failed)."""
        with self._lock:
            out, self._late = self._late, []
        return out

    def end_all(self) -> None:
        """Treat every trace held as ended (at shutdown)."""
        with self._lock:
            ended = [self._end(trace_id) for trace_id in list(self._traces)]
        self._schedule(ended)

    def drain(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds until no trace is queued or being judged; True when none is."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._pending > 0:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle_cond.wait(left)
            return True

    def holds(self, trace_id: str) -> bool:
        """Whether ``trace_id`` has been filed and has not ended yet."""
        return trace_id in self._traces

    @property
    def pending(self) -> int:
        return self._pending

    @property
    def held_traces(self) -> int:
        return len(self._traces)

    def close(self, timeout: float | None = None) -> None:
        """End every trace held, wait up to ``timeout`` (default the config's ``drain_timeout``) for the
        judge, then stop. Traces still waiting are counted as skipped (``shutdown``)."""
        self.end_all()
        if not self.drain(self.monitor.config.drain_timeout_s if timeout is None else timeout):
            logger.warning("otel-cot monitor: stopping with %d traces not judged yet", self._pending)
        self._stopping.set()
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
            self.monitor.count_skip("shutdown")
        for thread in self._workers:
            thread.join(timeout=0.1)
