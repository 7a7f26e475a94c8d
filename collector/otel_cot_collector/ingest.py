"""Admission shared by both receivers: decode, validate, queue durably, then (only then) acknowledge."""

from __future__ import annotations

import asyncio
import hmac
import logging
from dataclasses import dataclass
from typing import Any

from google.protobuf.message import DecodeError

from . import otlp
from .store import QueueFull, Store
from .telemetry import Metrics

logger = logging.getLogger("otel_cot_collector.receiver")

OK, INVALID, FULL, UNAVAILABLE, UNIMPLEMENTED = "ok", "invalid", "full", "unavailable", "unimplemented"
RETRY_AFTER_S = 1


@dataclass
class Outcome:
    status: str
    message: str = ""
    response: Any = None  # the Export*ServiceResponse to send when status is OK


class Ingest:
    def __init__(self, store: Store, metrics: Metrics, signals: set[str]) -> None:
        self.store = store
        self.metrics = metrics
        self.signals = signals
        self.draining = False

    @staticmethod
    def authorized(expected: str | None, header: str | None) -> bool:
        if expected is None:
            return True
        if not header or not header.startswith("Bearer "):
            return False
        return hmac.compare_digest(header[7:].strip().encode(), expected.encode())

    def refuse(self, transport: str, reason: str) -> None:
        self.metrics.inc("otelcot_receiver_refused_requests_total", help="Requests refused, by reason",
                         transport=transport, reason=reason)

    async def accept(self, signal: otlp.Signal, body: bytes, is_json: bool, transport: str) -> Outcome:
        if signal.name not in self.signals:
            self.refuse(transport, "no_pipeline")
            return Outcome(UNIMPLEMENTED, f"no {signal.name} pipeline is configured")
        if self.draining:
            self.refuse(transport, "shutting_down")
            return Outcome(UNAVAILABLE, "the collector is shutting down")
        req = signal.request()
        try:
            if is_json:
                otlp.from_json(body, req)
            else:
                req.ParseFromString(body)
        except (DecodeError, ValueError, RecursionError) as exc:
            self.refuse(transport, "invalid")
            return Outcome(INVALID, str(exc) if is_json else f"invalid OTLP protobuf: {exc}")
        checked = otlp.check(signal, req, None if is_json else body)
        resp = signal.response()
        if checked.rejected:
            otlp.partial_success(signal, resp, checked.rejected, checked.message)
            self.metrics.inc("otelcot_receiver_rejected_items_total", checked.rejected,
                             help="Items dropped as invalid (partial success)", signal=signal.name)
        if checked.items:
            data = body if not is_json and not checked.rejected else req.SerializeToString()
            try:
                fut = self.store.append(signal.code, data, req)  # req is not used here after this
            except QueueFull as exc:
                self.refuse(transport, "queue_full")
                return Outcome(FULL, f"queue full, retry later: {exc}")
            try:
                await asyncio.wrap_future(fut)
            except Exception as exc:
                logger.error("could not queue a request", extra={"error": str(exc)})
                self.refuse(transport, "queue_error")
                return Outcome(UNAVAILABLE, "the durable queue failed to write; retry later")
            self.metrics.inc("otelcot_receiver_accepted_items_total", checked.items,
                             help="Items durably queued and acknowledged", signal=signal.name, transport=transport)
        return Outcome(OK, response=resp)
