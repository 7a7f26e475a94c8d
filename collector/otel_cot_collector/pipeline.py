"""The processing stage: inbox rows → processors → outbox rows (one per exporter of the signal).

Runs on one thread (the detector engine is CPU-bound Python; receivers stay on the event loop). An inbox
row is deleted in the same transaction that writes the outbox rows made from it, and only once every span
it carried has left the trace grouper, so a crash re-processes it rather than losing it.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from otel_cot.detectors import Engine, load_config_file

from . import otlp
from .config import Config
from .processors.agents.spans import LogSpans
from .processors.detect import Detect
from .processors.findings_metrics import FindingsCounter
from .processors.grouping import Group, SpanRef, TraceGrouper
from .processors.sampling import Sampler
from .store import Store
from .telemetry import Metrics

logger = logging.getLogger("otel_cot_collector.pipeline")

SPANS_PER_REQUEST = 2000


def build_engine(cfg: Config) -> Engine | None:
    det = cfg.processor("traces", "detect") or cfg.processor("logs", "detect")
    if det is None:
        return None
    detectors = None
    if det.config_file:
        detectors = load_config_file(det.config_file)
    return Engine(detectors, timeout_s=det.timeout, max_traces=det.max_traces)


class Pipeline:
    def __init__(self, cfg: Config, store: Store, metrics: Metrics, engine: Engine | None = None) -> None:
        self.store = store
        self.metrics = metrics
        pipes = cfg.pipelines
        self.exporters = {s: (pipes[s].exporters if s in pipes else []) for s in otlp.SIGNALS}
        engine = engine if engine is not None else build_engine(cfg)
        self.engine = engine
        group_cfg = cfg.processor("traces", "group_by_trace")
        self.grouper = TraceGrouper(group_cfg.wait, group_cfg.max_traces, group_cfg.max_spans) if group_cfg \
            else TraceGrouper(0.0, 10_000, 200_000)
        self.detect_traces = Detect(engine, metrics) if engine and cfg.processor("traces", "detect") else None
        log_detect = cfg.processor("logs", "detect")
        log_spans = LogSpans(log_detect.log_spans) if log_detect and log_detect.log_spans != "none" else None
        self.detect_logs = Detect(engine, metrics, log_spans=log_spans) if engine and log_detect else None
        sampling = cfg.processor("traces", "sampling")
        self.sampler = Sampler(sampling.keep_fraction, sampling.remember_traces) if sampling else None
        fm = cfg.processor("traces", "findings_metrics")
        self.findings = FindingsCounter() if fm else None
        self.findings_exporters = fm.exporters if fm else []
        self.findings_interval = fm.interval if fm else 0.0
        self._next_metrics = time.monotonic() + self.findings_interval
        self.cursor = 0
        self._held: dict[int, int] = {}  # inbox id → spans of it still in the grouper
        self._stopping = threading.Event()
        self._abort = threading.Event()
        self.finished = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pipeline", daemon=True)

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
                    self._emit_findings(force=True)
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
        rows: list[tuple[str, int, bytes]] = []
        worked = False
        if not self.grouper.full:
            for row_id, code, data in self.store.read_inbox(self.cursor, 64):
                self.cursor = row_id
                worked = True
                try:
                    self._handle(row_id, otlp.BY_CODE.get(code), data, done, rows)
                except Exception:
                    # Forward unprocessed rather than lose or retry forever what the receiver accepted.
                    logger.exception("processing failed; forwarding the request unprocessed",
                                     extra={"inbox_id": row_id})
                    self._forward(row_id, otlp.BY_CODE.get(code), data, done, rows)
        groups = self.grouper.due(force=force)
        if groups:
            worked = True
            self._flush(groups, done, rows)
        self.store.move(done, rows)
        self._emit_findings()
        return worked

    def _handle(self, row_id: int, signal: otlp.Signal | None, data: bytes, done: list[int],
                rows: list[tuple[str, int, bytes]]) -> None:
        if signal is None or not self.exporters[signal.name]:
            done.append(row_id)
            return
        if signal is otlp.TRACES:
            req = ExportTraceServiceRequest.FromString(data)
            for rs in req.resource_spans:
                for ss in rs.scope_spans:
                    for span in ss.spans:
                        self.grouper.add(SpanRef(rs, ss, span, row_id))
                        self._held[row_id] = self._held.get(row_id, 0) + 1
            if row_id not in self._held:
                done.append(row_id)
            return
        if signal is otlp.LOGS and self.detect_logs is not None:
            req = signal.request.FromString(data)
            found = self.detect_logs.logs(req)
            if found:
                data = req.SerializeToString()
                self._count_findings([(f.category, f.severity, service) for f, service in found])
            spans = self.detect_logs.log_spans.take() if self.detect_logs.log_spans else None
            if spans:  # written in the same transaction as the logs, so a crash re-emits both
                rows.extend((name, otlp.TRACES.code, spans) for name in self.exporters["traces"])
        done.append(row_id)
        rows.extend((name, signal.code, data) for name in self.exporters[signal.name])

    def _forward(self, row_id: int, signal: otlp.Signal | None, data: bytes, done: list[int],
                 rows: list[tuple[str, int, bytes]]) -> None:
        if row_id in self._held:
            return  # its spans are in the grouper already and leave with their traces
        done.append(row_id)
        if signal is not None:
            rows.extend((name, signal.code, data) for name in self.exporters[signal.name])

    def _flush(self, groups: list[Group], done: list[int], rows: list[tuple[str, int, bytes]]) -> None:
        kept: list[SpanRef] = []
        services: dict[int, str] = {}
        judged: list = []
        if self.detect_traces is not None:
            try:
                judged = self.detect_traces.traces([group.spans for group in groups])
            except Exception as exc:  # not expected: traces() reports failures per trace
                judged = [exc] * len(groups)
        for index, group in enumerate(groups):
            flagged = False
            finding_spans: list[SpanRef] = []
            if self.detect_traces is not None:
                result = judged[index]
                if isinstance(result, Exception):
                    logger.error("detection failed for a trace; exported unannotated",
                                 exc_info=result, extra={"trace_id": group.trace_id.hex()})
                    new = []
                else:
                    new, flagged, finding_spans = result
                if new:
                    self._count_findings([(f.category, f.severity, self._service(group.spans[0].resource, services))
                                          for f in new])
            if self.sampler is None or self.sampler.keep(group.trace_id, flagged):
                kept.extend(group.spans)
                kept.extend(finding_spans)
            else:
                self.metrics.inc("otelcot_sampled_out_spans_total", len(group.spans),
                                 help="Spans dropped by finding-aware sampling")
            for ref in group.spans:
                left = self._held[ref.inbox_id] - 1
                if left:
                    self._held[ref.inbox_id] = left
                else:
                    del self._held[ref.inbox_id]
                    done.append(ref.inbox_id)
        for start in range(0, len(kept), SPANS_PER_REQUEST):
            data = _request(kept[start:start + SPANS_PER_REQUEST])
            rows.extend((name, otlp.TRACES.code, data) for name in self.exporters["traces"])

    @staticmethod
    def _service(rs: Any, cache: dict[int, str]) -> str:
        key = id(rs)
        if key not in cache:
            cache[key] = next((kv.value.string_value for kv in rs.resource.attributes if kv.key == "service.name"),
                              "unknown_service")
        return cache[key]

    def _count_findings(self, items: list[tuple[str, str, str]]) -> None:
        for category, severity, service in items:
            self.metrics.inc("otelcot_findings_total", help="Findings written, by category and severity",
                             category=category, severity=severity)
            if self.findings is not None:
                self.findings.add(category, severity, service)

    def _emit_findings(self, force: bool = False) -> None:
        if self.findings is None or (not force and time.monotonic() < self._next_metrics):
            return
        self._next_metrics = time.monotonic() + self.findings_interval
        data = self.findings.collect()
        if data:
            self.store.add_outbox([(name, otlp.METRICS.code, data) for name in self.findings_exporters])


def _request(refs: list[SpanRef]) -> bytes:
    """One ExportTraceServiceRequest for ``refs``, keeping each span with its original resource and scope."""
    by_resource: dict[int, tuple[Any, dict[int, tuple[Any, list[Any]]]]] = {}
    for ref in refs:
        entry = by_resource.setdefault(id(ref.resource), (ref.resource, {}))
        entry[1].setdefault(id(ref.scope), (ref.scope, []))[1].append(ref.span)
    req = ExportTraceServiceRequest()
    for rs, scopes in by_resource.values():
        out_rs = req.resource_spans.add(schema_url=rs.schema_url)
        out_rs.resource.CopyFrom(rs.resource)
        for ss, spans in scopes.values():
            out_ss = out_rs.scope_spans.add(schema_url=ss.schema_url)
            out_ss.scope.CopyFrom(ss.scope)
            out_ss.spans.extend(spans)
    return req.SerializeToString()

