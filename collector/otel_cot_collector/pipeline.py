"""The processing stage: inbox rows → processors → outbox rows (one per exporter of the signal).

Runs on one thread (the detector engine is CPU-bound Python; receivers stay on the event loop). Spans go
through ``group_by_trace`` (the first processor of the traces pipeline, or a default grouping without
wait), which decides when a trace leaves; then each trace group goes through the traces pipeline's other
processors in the order the config lists them. Log (and metric) requests go through their pipeline's
processors one request at a time. Processors are created from their factories (:mod:`.registry`).

An inbox row is deleted in the same transaction that writes the outbox rows made from it, and only once
every span it carried has left the trace grouper, so a crash re-processes it rather than losing it.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Iterator, Sequence

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from otel_cot.detectors import Finding

from . import otlp
from .config import Config
from .processors.grouping import Group, SpanRef, TraceGrouper, request_of
from .registry import FindingsFeed, ProcessorContext
from .span_wires import span_wires
from .store import Store
from .telemetry import Metrics

logger = logging.getLogger("otel_cot_collector.pipeline")

SPANS_PER_REQUEST = 2000
Row = tuple[str, int, bytes]  # (exporter, signal code, serialized request)


class Pipeline:
    def __init__(self, cfg: Config, store: Store, metrics: Metrics) -> None:
        self.store = store
        self.metrics = metrics
        pipes = cfg.pipelines
        self.exporters = {s: (pipes[s].exporters if s in pipes else []) for s in otlp.SIGNALS}
        self.findings = FindingsFeed()
        self.findings.subscribe(self._count_findings)
        self._emitted: list[Row] = []
        self.processors: dict[str, list[tuple[str, Any]]] = {}  # signal -> (component id, processor) in order
        shared: dict[str, Any] = {}
        registry = cfg.components()
        for signal, pipe in pipes.items():
            made = []
            for name in pipe.processors:
                ctx = ProcessorContext(name, signal, cfg, metrics, self.findings, self.emit, shared)
                made.append((name, registry.create("processor", name, cfg.processors[name], ctx)))
            self.processors[signal] = made
        traces = self.processors.get("traces", [])
        grouper = traces[0][1] if traces else None  # group_by_trace, always first when listed
        self.grouper = grouper if isinstance(grouper, TraceGrouper) else TraceGrouper(0.0, 10_000, 200_000)
        self._entry = {signal: [(name, getattr(p, signal)) for name, p in made
                                if p is not self.grouper and hasattr(p, signal)]
                       for signal, made in self.processors.items()}
        # the traces processors that may change any span they get: spans reach them without their wire
        self._clears_wire = {name for name, p in self.processors.get("traces", ())
                             if registry.factory("processor", name).span_writes == "any"}
        self._ticks = [p.tick for made in self.processors.values() for _, p in made if hasattr(p, "tick")]
        self.cursor = 0
        self._held: dict[int, int] = {}  # inbox id → spans of it still in the grouper
        self._stopping = threading.Event()
        self._abort = threading.Event()
        self.finished = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pipeline", daemon=True)

    def emit(self, signal: str, data: bytes, exporters: Sequence[str] | None = None) -> None:
        """Queue ``data`` (one serialized request of ``signal``) for ``exporters`` (default: the exporters
        of ``signal``'s pipeline); see :class:`~.registry.ProcessorContext`."""
        code = otlp.SIGNALS[signal].code
        self._emitted.extend((name, code, data) for name in (self.exporters[signal] if exporters is None
                                                             else exporters))

    def _take_emitted(self) -> list[Row]:
        rows, self._emitted = self._emitted, []
        return rows

    # --- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float) -> bool:
        """Process what is in the inbox, flush every held trace, then return (True when finished)."""
        self._stopping.set()
        self.store.inbox_event.set()
        if self.finished.wait(timeout):
            return True
        self._abort.set()  # out of time: what is still in the inbox is processed on the next start
        return False

    def _run(self) -> None:
        try:
            while not self._abort.is_set():
                self.store.inbox_event.clear()
                worked = self.step(force=self._stopping.is_set())
                if self._stopping.is_set() and not worked and len(self.grouper) == 0:
                    self.tick(force=True)
                    return
                if not worked:
                    deadline = self.grouper.next_deadline()
                    wait = 0.2 if deadline is None else min(0.2, max(0.0, deadline - time.monotonic()))
                    self.store.inbox_event.wait(wait)
        except Exception:
            logger.exception("pipeline stopped on an unexpected error; queued data stays in the queue")
        finally:
            self.finished.set()

    # --- one round -----------------------------------------------------------------------------------
    def step(self, force: bool = False) -> bool:
        done: list[int] = []
        rows: list[Row] = []
        worked = False
        if not self.grouper.full:
            for row_id, code, decoded, data in self.store.take_inbox(self.cursor, 64):
                self.cursor = row_id
                worked = True
                try:
                    self._handle(row_id, otlp.BY_CODE.get(code), decoded, data, done, rows)
                except Exception:
                    # Forward unprocessed rather than lose or retry forever what the receiver accepted.
                    logger.exception("processing failed; forwarding the request unprocessed",
                                     extra={"inbox_id": row_id})
                    self._take_emitted()  # what the failed processing emitted goes with it
                    self._forward(row_id, otlp.BY_CODE.get(code), done, rows)
        groups = self.grouper.due(force=force)
        if groups:
            worked = True
            self._flush(groups, done, rows)
        self.store.move(done, rows)
        self.tick()
        return worked

    def _handle(self, row_id: int, signal: otlp.Signal | None, decoded: Any, data: bytes | None,
                done: list[int], rows: list[Row]) -> None:
        """``decoded``: the row's request as the receiver decoded it (the store hands it over with ``data``,
        the bytes it was queued as), or None; then (and for what is forwarded as received) the row's bytes
        are read."""
        if signal is None or not self.exporters[signal.name]:
            done.append(row_id)
            return
        if type(decoded) is not signal.request:
            decoded = data = None
        if signal is otlp.TRACES:
            if decoded is None:
                data = self.store.inbox_data(row_id)
                decoded = ExportTraceServiceRequest.FromString(data)
            req = decoded
            grouper = self.grouper
            before = grouper.span_count
            wires = self._span_wires(req, data)
            try:
                for rs in req.resource_spans:
                    for ss in rs.scope_spans:
                        grouper.add_spans(rs, ss, ss.spans, row_id, wires)
            finally:  # the spans already in the grouper leave with their traces, even if this failed
                held = grouper.span_count - before
                if held:
                    self._held[row_id] = held
            if not held:
                done.append(row_id)
            return
        data = self.store.inbox_data(row_id)
        entries = self._entry.get(signal.name)
        if entries:
            req = signal.request.FromString(data) if decoded is None else decoded
            changed = False
            for _, entry in entries:
                changed = bool(entry(req)) or changed
            if changed:
                data = req.SerializeToString()
            rows.extend(self._take_emitted())  # e.g. log-record spans: in the same transaction as the logs
        done.append(row_id)
        rows.extend((name, signal.code, data) for name in self.exporters[signal.name])

    @staticmethod
    def _span_wires(req: Any, data: bytes | None) -> Iterator[bytes] | None:
        """Each span's received bytes in ``data`` (the bytes ``req`` was parsed from), in the order
        ``req`` holds the spans, or None (no bytes, or not read exactly: the spans are serialized)."""
        wires = span_wires(data) if data is not None else None
        if wires is None or len(wires) != sum(len(ss.spans) for rs in req.resource_spans
                                              for ss in rs.scope_spans):
            return None
        return iter(wires)

    def _forward(self, row_id: int, signal: otlp.Signal | None, done: list[int], rows: list[Row]) -> None:
        if row_id in self._held:
            return  # its spans are in the grouper already and leave with their traces
        done.append(row_id)
        if signal is not None:
            data = self.store.inbox_data(row_id)
            rows.extend((name, signal.code, data) for name in self.exporters[signal.name])

    def _flush(self, groups: list[Group], done: list[int], rows: list[Row]) -> None:
        out = groups
        for name, entry in self._entry.get("traces", ()):
            if name in self._clears_wire:
                for group in out:
                    for ref in group.spans:
                        ref.wire = None
                    for ref in group.added:
                        ref.wire = None
            try:
                out = entry(out)
            except Exception:  # not expected: processors handle a bad trace themselves
                logger.exception("a processor failed on a batch of traces; passed on unprocessed",
                                 extra={"processor": name, "traces": len(out)})
        kept: list[SpanRef] = []
        for group in out:
            kept.extend(group.spans)
            kept.extend(group.added)
        for group in groups:
            for ref in group.spans:
                left = self._held[ref.inbox_id] - 1
                if left:
                    self._held[ref.inbox_id] = left
                else:
                    del self._held[ref.inbox_id]
                    done.append(ref.inbox_id)
        for start in range(0, len(kept), SPANS_PER_REQUEST):
            data = request_of(kept[start:start + SPANS_PER_REQUEST])
            rows.extend((name, otlp.TRACES.code, data) for name in self.exporters["traces"])
        rows.extend(self._take_emitted())

    def _count_findings(self, found: Sequence[tuple[Finding, str]]) -> None:
        for finding, _ in found:
            self.metrics.inc("otelcot_findings_total", help="Findings written, by category and severity",
                             category=finding.category, severity=finding.severity)

    def tick(self, force: bool = False) -> None:
        """Processors' timed work (``findings_metrics``); what they emit is queued right away."""
        for tick in self._ticks:
            try:
                tick(force)
            except Exception:
                logger.exception("a processor's tick failed")
        rows = self._take_emitted()
        if rows:
            self.store.add_outbox(rows)
