"""The export pipeline ``init()`` adds to a provider: an exporter built on first use, and a bound on what a flush
or a shutdown may spend on a backend that does not answer.

Built on first use (:class:`LazySpanExporter`): the OTLP/HTTP exporter imports requests and protobuf (tens of
milliseconds) that ``init()`` need not pay before anything is exported. (Not the gRPC one: it cannot be made
at interpreter exit, where a short script exports for the first time.)

Bounded (:class:`BoundedSpanProcessor`): the SDK's batch processor waits for the exporter's own retries, up to
``OTEL_EXPORTER_OTLP_TIMEOUT`` (10 s) a batch, at shutdown and at interpreter exit, and its ``force_flush``
ignores its timeout. Here a flush or a shutdown gets one deadline: each export inside it runs in a daemon
thread and is given up when the deadline passes (a thread still waiting on the network is abandoned, and dies
with the process), the spans not delivered are counted, and one warning line says how many. The exporter's own
retry warnings for those exports are kept off the log (:func:`silence_exporter_logs`): one line, not a
log storm. Exports outside a flush or shutdown run as the SDK runs them.
"""

from __future__ import annotations

import contextvars
import logging
import threading
import time
from typing import Any, Callable, Iterable, Sequence

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

logger = logging.getLogger("otel_cot")

OTLP_LOGGERS = (
    "opentelemetry.exporter.otlp.proto.http.trace_exporter",
    "opentelemetry.exporter.otlp.common.http",
    "opentelemetry.exporter.otlp.proto.grpc.exporter",
)
"""Where the OTLP exporters log their retries and failures."""


class LazySpanExporter(SpanExporter):
    """The exporter ``build()`` makes, made on the first export (in the export thread), not before; or at once
    with ``build_now()``."""

    def __init__(self, build: Callable[[], SpanExporter], target: str, loggers: Sequence[str] = OTLP_LOGGERS) -> None:
        self._build: Callable[[], SpanExporter] | None = build
        self._exporter: SpanExporter | None = None
        self._lock = threading.Lock()
        self.target = target
        """Where the spans go, for messages."""
        self.loggers = tuple(loggers)

    def build_now(self) -> "LazySpanExporter":
        """Make the exporter here (errors raise): for exporters that cannot be made at interpreter exit (the gRPC
        one starts a thread pool, which Python refuses once exit has begun)."""
        with self._lock:
            if self._exporter is None and self._build is not None:
                self._exporter = self._build()
                self._build = None
        return self

    def _get(self) -> SpanExporter | None:
        with self._lock:
            if self._exporter is None and self._build is not None:
                build, self._build = self._build, None
                try:
                    self._exporter = build()
                except Exception as exc:
                    logger.error("otel-cot: cannot create the span exporter for %s (%s); spans are not exported",
                                 self.target, exc)
            return self._exporter

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        exporter = self._get()
        return exporter.export(spans) if exporter is not None else SpanExportResult.FAILURE

    def shutdown(self) -> None:
        with self._lock:
            self._build = None  # never built after shutdown
            exporter = self._exporter
        if exporter is not None:
            exporter.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        exporter = self._exporter
        return True if exporter is None else exporter.force_flush(timeout_millis)


# --- keeping an abandoned export quiet -----------------------------------------------------------------
_silenced: set[int] = set()
"""Threads whose exporter log records are dropped: the exports a deadline governs (their outcome is reported
in one line instead)."""


class _SilencedThreads(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.thread not in _silenced


_FILTER = _SilencedThreads()


def silence_exporter_logs(names: Iterable[str]) -> None:
    """Apply the filter to these loggers (the exporter's); it drops only the silenced threads' records."""
    for name in names:
        named = logging.getLogger(name)
        if _FILTER not in named.filters:
            named.addFilter(_FILTER)


def exporter_loggers(exporter: SpanExporter) -> set[str]:
    """The loggers an exporter writes to: those it names, else the modules of its class."""
    named = getattr(exporter, "loggers", None)
    if named:
        return set(named)
    return {cls.__module__ for cls in type(exporter).__mro__ if cls.__module__ not in ("builtins", "abc")}


def target_of(exporter: SpanExporter) -> str:
    return getattr(exporter, "target", None) or type(exporter).__name__


def _start_thread(run: Callable[[], None], name: str) -> threading.Thread | None:
    """``run`` in a daemon thread, in the caller's context (the SDK's "suppress instrumentation" flag keeps an
    export's own HTTP call untraced); None when it ran here instead (no new thread once interpreter exit has
    begun)."""
    context = contextvars.copy_context()
    thread = threading.Thread(target=context.run, args=(run,), name=name, daemon=True)
    try:
        thread.start()
    except RuntimeError:
        context.run(run)
        return None
    return thread


class DeadlineExporter(SpanExporter):
    """Passes exports through; while a deadline is set, each export gets the time left, and the spans of those
    that fail or are given up are counted."""

    def __init__(self, exporter: SpanExporter, loggers: Iterable[str]) -> None:
        self._exporter = exporter
        self._deadline: float | None = None
        self._lock = threading.Lock()
        self._lost = 0
        self._in_flight: dict[int, int] = {}
        """Exports running without a deadline: thread ident -> spans."""
        self._shut_down = False
        silence_exporter_logs(loggers)

    def set_deadline(self, seconds: float) -> float:
        deadline = time.monotonic() + seconds
        with self._lock:
            self._deadline = deadline
            _silenced.update(self._in_flight)  # an export already on its way now ends under the deadline
        return deadline

    def clear_deadline(self, deadline: float) -> None:
        with self._lock:
            if self._deadline == deadline:
                self._deadline = None

    def take_lost(self, with_in_flight: bool) -> int:
        """The spans not delivered since the last call (with those still on their way, if asked)."""
        with self._lock:
            lost, self._lost = self._lost, 0
            return lost + (sum(self._in_flight.values()) if with_in_flight else 0)

    def _count_lost(self, spans: int) -> None:
        with self._lock:
            self._lost += spans

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        deadline = self._deadline
        if deadline is not None:
            return self._export_by(deadline, spans)
        thread = threading.get_ident()
        with self._lock:
            self._in_flight[thread] = len(spans)
        result = SpanExportResult.FAILURE
        try:
            result = self._exporter.export(spans)
            return result
        finally:
            with self._lock:
                self._in_flight.pop(thread, None)
                if thread in _silenced:  # a deadline came while it ran
                    _silenced.discard(thread)
                    if result is not SpanExportResult.SUCCESS:
                        self._lost += len(spans)

    def _export_by(self, deadline: float, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        outcome: list[SpanExportResult] = []

        def run() -> None:
            thread = threading.get_ident()
            _silenced.add(thread)
            try:
                outcome.append(self._exporter.export(spans))
            except Exception as exc:
                logger.debug("otel-cot: export failed (%s)", exc)
            finally:
                _silenced.discard(thread)

        remaining = deadline - time.monotonic()
        if remaining > 0:
            thread = _start_thread(run, "otel-cot-export")
            if thread is not None:
                thread.join(remaining)
        if outcome and outcome[0] is SpanExportResult.SUCCESS:
            return SpanExportResult.SUCCESS
        self._count_lost(len(spans))
        return SpanExportResult.FAILURE

    def shutdown(self) -> None:
        """Shut the exporter down (once): what it still waits for (a retry's backoff, a gRPC call) ends."""
        with self._lock:
            if self._shut_down:
                return
            self._shut_down = True
        self._exporter.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._exporter.force_flush(timeout_millis)


_EXPORTS_SHARE = 0.9
"""Of a flush's or shutdown's time, the share its exports get: what they lost is counted by the end."""


class BoundedSpanProcessor(BatchSpanProcessor):
    """A ``BatchSpanProcessor`` whose ``force_flush(timeout_millis)`` and ``shutdown(timeout_millis)`` return within
    their time (``shutdown_timeout`` seconds when not given) and say in one warning line how many spans they
    could not deliver (``force_flush`` then returns False).

    ``sender``: the exporter that talks to the backend, when ``exporter`` wraps it (for the message and its logs).
    """

    def __init__(self, exporter: SpanExporter, shutdown_timeout: float, sender: SpanExporter | None = None) -> None:
        sender = sender or exporter
        self._bounded = DeadlineExporter(exporter, exporter_loggers(sender))
        super().__init__(self._bounded)
        self._shutdown_timeout = shutdown_timeout
        self._target = target_of(sender)
        self._stuck: threading.Thread | None = None
        """A flush or shutdown that outlived its time and still waits on the exporter."""
        self._shut_down = False

    def _seconds(self, timeout_millis: int | None) -> float:
        return self._shutdown_timeout if timeout_millis is None else max(timeout_millis, 0) / 1000

    def force_flush(self, timeout_millis: int | None = None) -> bool:
        return self._within(self._seconds(timeout_millis), super().force_flush, shutting_down=False)

    def shutdown(self, timeout_millis: int | None = None) -> None:
        if self._shut_down:  # otel_cot.shutdown() does it first, then the provider's shutdown again
            return
        self._shut_down = True
        self._within(self._seconds(timeout_millis), super().shutdown, shutting_down=True)

    def _within(self, seconds: float, call: Callable[[], Any], shutting_down: bool) -> bool:
        deadline = self._bounded.set_deadline(seconds * _EXPORTS_SHARE)
        result: list[Any] = []

        def run() -> None:
            try:
                result.append(call())
            finally:
                self._bounded.clear_deadline(deadline)

        # An exporter that already let one call run past its time is not waited for again.
        wait = 0.0 if self._stuck is not None and self._stuck.is_alive() else seconds
        thread = _start_thread(run, "otel-cot-flush")
        if thread is not None:
            thread.join(wait * _EXPORTS_SHARE)
            if thread.is_alive():
                if shutting_down:
                    # An export started before the deadline still waits (retrying, or on a backend that does not
                    # answer): shutting the exporter down ends its retries, so what is left is counted.
                    self._bounded.shutdown()
                thread.join(wait * (1 - _EXPORTS_SHARE))
        finished = thread is None or not thread.is_alive()
        if not finished:
            self._stuck = thread
        lost = self._bounded.take_lost(with_in_flight=not finished)
        if lost or not finished:
            how_many = f"{lost} spans were" if lost != 1 else "1 span was"
            if not finished:
                how_many = f"at least {how_many}" if lost else "spans were"
            logger.warning("otel-cot: %s not delivered to %s: the backend did not accept %s within %.2g s "
                           "(OTEL_COT_SHUTDOWN_TIMEOUT sets how long shutdown waits)", how_many, self._target,
                           "it" if lost == 1 and finished else "them", seconds)
        return finished and not lost and bool(result and result[0])
