"""Wires receivers, pipeline, exporters and the queue together; runs until SIGTERM/SIGINT, then drains."""

from __future__ import annotations

import asyncio
import logging
import signal
import time

from . import ops
from .config import Config
from .exporters.base import Exporter
from .http_server import HttpServer, serve
from .pipeline import Pipeline
from .ingest import Ingest
from .preflight import one_line
from .registry import ExporterContext, ReceiverContext
from .store import Store
from .telemetry import Metrics

logger = logging.getLogger("otel_cot_collector")


class StartupError(Exception):
    """A component could not start (an address taken after the pre-start check, ...): one line, naming it."""


class Service:
    def __init__(self, cfg: Config) -> None:
        registry = cfg.components()
        self.cfg = cfg
        self.metrics = Metrics()
        self.store = Store(cfg.queue.directory, cfg.queue.max_bytes)
        self.exporters = []
        for name in cfg.exporters_in_use():
            transport = registry.create("exporter", name, cfg.exporters[name], ExporterContext(name, self.metrics))
            self.exporters.append(Exporter(name, cfg.exporters[name], transport, self.store, self.metrics))
        self.pipeline = Pipeline(cfg, self.store, self.metrics)
        self.ingest = Ingest(self.store, self.metrics, set(cfg.pipelines))
        self.receivers = [registry.create("receiver", name, rcfg, ReceiverContext(name, self.ingest, self.metrics))
                          for name, rcfg in cfg.receivers.items()]
        self._ops: HttpServer | None = None
        self._ready = False
        self._stop = asyncio.Event()
        self._register_gauges()

    def _register_gauges(self) -> None:
        m = self.metrics
        m.gauge("otelcot_queue_bytes", "Payload bytes in the durable queue", lambda: self.store.bytes)
        m.gauge("otelcot_queue_max_bytes", "The durable queue's bytes limit", lambda: self.store.max_bytes)
        m.gauge("otelcot_grouper_spans", "Spans held by trace grouping", lambda: self.pipeline.grouper.span_count)

    def ready(self) -> tuple[bool, str]:
        if not self._ready:
            return False, "starting"
        if self.ingest.draining:
            return False, "shutting down"
        if self.store.bytes >= 0.9 * self.store.max_bytes:  # a load balancer should send elsewhere
            return False, "queue nearly full"
        return True, ""

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._stop.set)
        self.pipeline.start()
        for exporter in self.exporters:
            exporter.start()
        try:
            await self._start_servers()
            self._ready = True
            logger.info("collector started", extra={"queue_bytes": self.store.bytes,
                                                    "queue": self.cfg.queue.directory})
            await self._stop.wait()
        finally:
            await self._shutdown()

    async def _start_servers(self) -> None:
        for name, receiver in zip(self.cfg.receivers, self.receivers):
            try:
                await receiver.start()
            except Exception as exc:
                raise StartupError(f"receivers.{name}: {one_line(exc)}") from exc
        tel = self.cfg.telemetry
        try:
            self._ops = await serve(ops.build_app(self.metrics, self.ready), tel.host, tel.port)
        except OSError as exc:
            raise StartupError(f"service.telemetry.endpoint: {one_line(exc)}") from exc

    async def _shutdown(self) -> None:
        """Stop accepting, finish in-flight requests, process and export what is queued, within the deadline;
        whatever is left stays in the durable queue for the next start."""
        deadline = time.monotonic() + self.cfg.shutdown_timeout
        logger.info("shutting down", extra={"deadline_s": self.cfg.shutdown_timeout})
        self.ingest.draining = True
        grace = min(2.0, self.cfg.shutdown_timeout)
        await asyncio.gather(*(r.stop(grace) for r in self.receivers), *([self._ops.stop()] if self._ops else []))
        left = max(0.0, deadline - time.monotonic())
        await asyncio.to_thread(self.pipeline.stop, left)
        for exporter in self.exporters:
            exporter.upstream_done.set()
            exporter.drain()
        for exporter in self.exporters:
            await asyncio.to_thread(exporter.finished.wait, max(0.0, deadline - time.monotonic()))
            exporter.stop()
        for exporter in self.exporters:
            await asyncio.to_thread(exporter.finished.wait, 2.0)
        await asyncio.to_thread(self.pipeline.finished.wait, 2.0)
        inbox, outbox = self.store.counts()
        self.store.close()
        logger.info("stopped", extra={"left_in_inbox": inbox, "left_in_outbox": outbox})


def run(cfg: Config) -> None:
    asyncio.run(Service(cfg).run())
