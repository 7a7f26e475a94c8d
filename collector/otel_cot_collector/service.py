"""Wires receivers, pipeline, exporters and the queue together; runs until SIGTERM/SIGINT, then drains."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from typing import Any, Iterator

import grpc
import uvicorn

from . import ops
from .config import Config
from .exporters.base import Exporter, Transport
from .exporters.grpc_exporter import GrpcTransport
from .exporters.http_exporter import HttpTransport
from .pipeline import Pipeline
from .receivers import grpc_receiver, http_receiver
from .receivers.ingest import Ingest
from .store import Store
from .telemetry import Metrics

logger = logging.getLogger("otel_cot_collector")


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:  # the service owns signal handling
        yield


def _transport(cfg: Any) -> Transport:
    return GrpcTransport(cfg) if cfg.type == "otlp_grpc" else HttpTransport(cfg)


class Service:
    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.metrics = Metrics()
        self.store = Store(cfg.queue.directory, cfg.queue.max_bytes)
        used = {name for p in cfg.pipelines.values() for name in p.exporters}
        fm = cfg.processor("traces", "findings_metrics")
        used.update(fm.exporters if fm else ())
        self.exporters = [Exporter(cfg.exporters[n], _transport(cfg.exporters[n]), self.store, self.metrics)
                          for n in sorted(used)]
        self.pipeline = Pipeline(cfg, self.store, self.metrics)
        self.ingest = Ingest(self.store, self.metrics, set(cfg.pipelines))
        self._grpc: list[grpc.aio.Server] = []
        self._http: list[_Server] = []
        self._ready = False
        self._stop = asyncio.Event()
        self._register_gauges()

    def _register_gauges(self) -> None:
        m = self.metrics
        m.gauge("otelcot_queue_bytes", "Payload bytes in the durable queue", lambda: self.store.bytes)
        m.gauge("otelcot_queue_max_bytes", "The durable queue's bytes limit", lambda: self.store.max_bytes)
        m.gauge("otelcot_grouper_spans", "Spans held by trace grouping", lambda: self.pipeline.grouper.span_count)
        if self.pipeline.engine is not None:
            m.gauge("otelcot_detector_traces", "Traces with detector state", lambda: self.pipeline.engine.trace_count)

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
        for rcfg in self.cfg.receivers.values():
            if rcfg.grpc:
                server, port = grpc_receiver.build_server(self.ingest, rcfg.grpc)
                await server.start()
                self._grpc.append(server)
                logger.info("OTLP/gRPC receiver listening", extra={"receiver": rcfg.name,
                                                                   "endpoint": f"{rcfg.grpc.host}:{port}"})
            if rcfg.http:
                app = http_receiver.build_app(self.ingest, rcfg.http.max_request_bytes, rcfg.http.bearer_token)
                tls = rcfg.http.tls
                await self._serve_http(app, rcfg.http.host, rcfg.http.port, tls.cert_file if tls else None,
                                       tls.key_file if tls else None)
                logger.info("OTLP/HTTP receiver listening", extra={"receiver": rcfg.name,
                                                                   "endpoint": f"{rcfg.http.host}:{rcfg.http.port}"})
        tel = self.cfg.telemetry
        await self._serve_http(ops.build_app(self.metrics, self.ready), tel.host, tel.port, None, None)

    async def _serve_http(self, app: Any, host: str, port: int, cert: str | None, key: str | None) -> None:
        config = uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False, lifespan="off",
                                ssl_certfile=cert, ssl_keyfile=key, timeout_graceful_shutdown=2,
                                limit_concurrency=1000, h11_max_incomplete_event_size=64 * 1024)
        server = _Server(config)
        task = asyncio.create_task(server.serve())
        while not server.started:
            if task.done():
                task.result()  # raises (e.g. SystemExit when the port is taken)
                raise OSError(f"HTTP server on {host}:{port} stopped during startup")
            await asyncio.sleep(0.01)
        self._http.append(server)
        server._task = task  # type: ignore[attr-defined]

    async def _shutdown(self) -> None:
        """Stop accepting, finish in-flight requests, process and export what is queued, within the deadline;
        whatever is left stays in the durable queue for the next start."""
        deadline = time.monotonic() + self.cfg.shutdown_timeout
        logger.info("shutting down", extra={"deadline_s": self.cfg.shutdown_timeout})
        self.ingest.draining = True
        await asyncio.gather(*(s.stop(grace=min(2.0, self.cfg.shutdown_timeout)) for s in self._grpc))
        for server in self._http:
            server.should_exit = True
        await asyncio.gather(*(s._task for s in self._http), return_exceptions=True)  # type: ignore[attr-defined]
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
