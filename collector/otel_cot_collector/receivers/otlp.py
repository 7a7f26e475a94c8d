"""The ``otlp`` receiver: OTLP/gRPC and OTLP/HTTP front ends (either or both) over one admission path
(:mod:`otel_cot_collector.ingest`), which queues a request durably before it is acknowledged."""

from __future__ import annotations

import asyncio
import logging
import ssl
from typing import Iterator

import grpc

from ..http_server import HttpServer, serve
from ..preflight import one_line
from ..registry import Factory, ReceiverContext
from . import grpc_receiver, http_receiver
from ..ingest import Ingest
from .otlp_config import ReceiverConfig, parse

logger = logging.getLogger("otel_cot_collector")


class OtlpReceiver:
    def __init__(self, name: str, cfg: ReceiverConfig, ingest: Ingest) -> None:
        self.name = name
        self.cfg = cfg
        self.ingest = ingest
        self._grpc: grpc.aio.Server | None = None
        self._http: HttpServer | None = None

    async def start(self) -> None:
        if self.cfg.grpc:
            server, port = grpc_receiver.build_server(self.ingest, self.cfg.grpc)
            await server.start()
            self._grpc = server
            logger.info("OTLP/gRPC receiver listening", extra={"receiver": self.name,
                                                               "endpoint": f"{self.cfg.grpc.host}:{port}"})
        http = self.cfg.http
        if http:
            app = http_receiver.build_app(self.ingest, http.max_request_bytes, http.bearer_token)
            self._http = await serve(app, http.host, http.port, http.tls.cert_file if http.tls else None,
                                     http.tls.key_file if http.tls else None)
            logger.info("OTLP/HTTP receiver listening", extra={"receiver": self.name,
                                                               "endpoint": f"{http.host}:{http.port}"})

    async def stop(self, grace: float) -> None:
        """Stop accepting; requests in flight finish (gRPC within ``grace``)."""
        await asyncio.gather(*([self._grpc.stop(grace=grace)] if self._grpc else []),
                             *([self._http.stop()] if self._http else []))


def create(cfg: ReceiverConfig, ctx: ReceiverContext) -> OtlpReceiver:
    return OtlpReceiver(ctx.name, cfg, ctx.ingest)


def listens(cfg: ReceiverConfig) -> list[tuple[str, str, int]]:
    return [(f"protocols.{name}.endpoint", p.host, p.port) for name, p in (("grpc", cfg.grpc), ("http", cfg.http))
            if p is not None]


def check(cfg: ReceiverConfig, path: str) -> Iterator[str]:
    """The TLS certificate and key load (a server would fail to start otherwise)."""
    for name, p in (("grpc", cfg.grpc), ("http", cfg.http)):
        if p is not None and p.tls is not None:
            try:
                ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(p.tls.cert_file, p.tls.key_file)
            except (ssl.SSLError, OSError) as exc:
                yield f"{path}.protocols.{name}.tls: cannot load the certificate and key ({one_line(exc)})"


factory = Factory(kind="receiver", type="otlp", config=ReceiverConfig, parse=parse, create=create,
                  listens=listens, check=check)
