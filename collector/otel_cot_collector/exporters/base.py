"""The exporter loop: read the oldest outbox rows, send them, delete them only once the backend accepted
(or refused them for good), retry the rest with exponential backoff + jitter, honouring the backend's
requested delay. Serialized requests of one type concatenate into one valid request (repeated fields
merge), so batching costs no re-encoding."""

from __future__ import annotations

import logging
import random
import threading
import time
from dataclasses import dataclass, field

from .. import otlp
from ..config_parsing import Section, duration, size
from ..store import Store
from ..telemetry import Metrics

logger = logging.getLogger("otel_cot_collector.exporter")

SENT, RETRY, DROP = "sent", "retry", "drop"


@dataclass
class RetryConfig:
    initial_interval: float = 1.0
    max_interval: float = 30.0
    multiplier: float = 1.5
    max_elapsed: float = 0.0  # 0: retry until the backend accepts (the queue holds the data meanwhile)


@dataclass
class SendingConfig:
    """What the queue-draining loop needs from an exporter's config (a new exporter type's config extends
    this and reads it with :func:`parse_sending`)."""

    max_batch_bytes: int = 2 << 20
    retry: RetryConfig = field(default_factory=RetryConfig)


def parse_sending(s: Section, d: SendingConfig) -> dict:
    """``max_batch_size`` and ``retry_on_failure`` of an exporter's section, as keyword arguments."""
    r = s.section("retry_on_failure")
    retry = RetryConfig(
        initial_interval=r.get("initial_interval", d.retry.initial_interval, duration),
        max_interval=r.get("max_interval", d.retry.max_interval, duration),
        multiplier=r.get("multiplier", d.retry.multiplier, lambda v, p: max(1.0, float(v))),
        max_elapsed=r.get("max_elapsed_time", d.retry.max_elapsed, duration),
    )
    r.done()
    return {"max_batch_bytes": s.get("max_batch_size", d.max_batch_bytes, size), "retry": retry}


@dataclass
class Result:
    outcome: str
    message: str = ""
    retry_after: float | None = None  # the backend's requested delay, seconds
    rejected: int = 0  # partial success: items the backend refused (not retried)


class Transport:
    """Sends one serialized request; never raises for backend or network errors."""

    def send(self, signal: otlp.Signal, body: bytes) -> Result:
        raise NotImplementedError

    def close(self) -> None:
        pass


def backoff(attempt: int, cfg: SendingConfig, retry_after: float | None) -> float:
    if retry_after is not None:
        return min(max(retry_after, 0.0), max(cfg.retry.max_interval, retry_after))
    base = min(cfg.retry.initial_interval * cfg.retry.multiplier ** attempt, cfg.retry.max_interval)
    return base * random.uniform(0.5, 1.5)  # jitter: many collectors must not retry in lockstep


class Exporter:
    """Drains the outbox rows of exporter ``name`` through ``transport``."""

    def __init__(self, name: str, cfg: SendingConfig, transport: Transport, store: Store, metrics: Metrics) -> None:
        self.name = name
        self.cfg = cfg
        self.transport = transport
        self.store = store
        self.metrics = metrics
        self._stop = threading.Event()  # stop now (deadline passed): leave the rest in the queue
        self._draining = threading.Event()  # stop once the outbox is empty and upstream has finished
        self.upstream_done = threading.Event()
        self.finished = threading.Event()
        self.healthy = True
        self._thread = threading.Thread(target=self._run, name=f"exporter-{name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def drain(self) -> None:
        self._draining.set()
        self.store.outbox_event.set()

    def stop(self) -> None:
        self._stop.set()
        self.store.outbox_event.set()

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                rows = self.store.read_outbox(self.name, 0, 256, self.cfg.max_batch_bytes)
                if not rows:
                    if self._draining.is_set() and self.upstream_done.is_set():
                        return
                    self.store.outbox_event.wait(0.1)
                    self.store.outbox_event.clear()
                    continue
                self._deliver(rows)
        except Exception:
            logger.exception("exporter stopped on an unexpected error", extra={"exporter": self.name})
        finally:
            self.transport.close()
            self.finished.set()

    def _deliver(self, rows: list[tuple[int, int, bytes]]) -> None:
        if self._send(otlp.BY_CODE[rows[0][1]], [r[2] for r in rows]):
            self.store.delete_outbox(rows)

    def _send(self, signal: otlp.Signal, bodies: list[bytes]) -> bool:
        """Send ``bodies`` as one request until the backend accepts or refuses them for good (True), or the
        exporter is stopped (False: the rows stay queued)."""
        body = b"".join(bodies)
        attempt, first = 0, time.monotonic()
        labels = {"exporter": self.name, "signal": signal.name}
        while not self._stop.is_set():
            result = self.transport.send(signal, body)
            if result.outcome == SENT:
                self.healthy = True
                self.metrics.inc("otelcot_exporter_sent_requests_total", len(bodies),
                                 help="Requests the backend accepted", **labels)
                if result.rejected or result.message:
                    self.metrics.inc("otelcot_exporter_rejected_items_total", result.rejected,
                                     help="Items the backend refused in a partial success", **labels)
                    logger.warning("backend partial success", extra={**labels, "rejected": result.rejected,
                                                                     "error": result.message})
                return True
            if result.outcome == DROP:
                # The request may be over the backend's size cap, or one bad part may spoil it: split it so
                # only what the backend really refuses is dropped.
                parts = bodies if len(bodies) > 1 else otlp.split(signal, body)
                if parts:
                    half = max(1, len(parts) // 2)
                    return self._send(signal, parts[:half]) and self._send(signal, parts[half:])
                self.metrics.inc("otelcot_exporter_dropped_requests_total",
                                 help="Requests the backend refused permanently", **labels)
                logger.error("backend refused data permanently; dropped", extra={**labels, "error": result.message})
                return True
            self.healthy = False
            self.metrics.inc("otelcot_exporter_retries_total", help="Failed attempts that will be retried", **labels)
            if self.cfg.retry.max_elapsed and time.monotonic() - first > self.cfg.retry.max_elapsed:
                self.metrics.inc("otelcot_exporter_dropped_requests_total", len(bodies), **labels)
                logger.error("retries exhausted; dropped", extra={**labels, "error": result.message})
                return True
            delay = backoff(attempt, self.cfg, result.retry_after)
            if attempt == 0 or attempt % 10 == 0:
                logger.warning("export failed; retrying", extra={**labels, "error": result.message,
                                                                 "attempt": attempt + 1, "delay_s": round(delay, 3)})
            attempt += 1
            if self._stop.wait(delay):
                return False
        return False
