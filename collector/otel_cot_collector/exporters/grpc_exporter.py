"""The ``otlp_grpc`` exporter (alias ``otlp``): one channel, raw serialized requests, the OTLP retryable-code table."""

from __future__ import annotations

from typing import Any

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from .. import otlp
from .base import DROP, RETRY, SENT, Result, Transport
from .otlp_config import GRPC, ExporterConfig, otlp_factory

_RETRYABLE = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED, grpc.StatusCode.DEADLINE_EXCEEDED,
              grpc.StatusCode.ABORTED, grpc.StatusCode.OUT_OF_RANGE, grpc.StatusCode.DATA_LOSS}


def _retry_delay(err: grpc.RpcError) -> float | None:
    try:
        status = rpc_status.from_call(err)  # type: ignore[arg-type]
    except Exception:
        return None
    for detail in status.details if status else ():
        if detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
            info = error_details_pb2.RetryInfo()
            detail.Unpack(info)
            return info.retry_delay.seconds + info.retry_delay.nanos / 1e9
    return None


class GrpcTransport(Transport):
    def __init__(self, cfg: ExporterConfig) -> None:
        self.cfg = cfg
        target = cfg.endpoint.split("://", 1)[-1]
        options = [("grpc.max_send_message_length", 64 << 20), ("grpc.max_receive_message_length", 4 << 20)]
        if cfg.insecure:
            self.channel = grpc.insecure_channel(target, options=options)
        else:
            roots = open(cfg.ca_file, "rb").read() if cfg.ca_file else None
            self.channel = grpc.secure_channel(target, grpc.ssl_channel_credentials(roots), options=options)
        self.metadata = [(k.lower(), v) for k, v in cfg.headers.items()]
        self.compression = grpc.Compression.Gzip if cfg.compression == "gzip" else grpc.Compression.NoCompression
        self._calls: dict[str, Any] = {}

    def _call(self, signal: otlp.Signal) -> Any:
        if signal.name not in self._calls:
            self._calls[signal.name] = self.channel.unary_unary(
                f"/{signal.grpc_service}/Export", request_serializer=None,
                response_deserializer=signal.response.FromString)
        return self._calls[signal.name]

    def send(self, signal: otlp.Signal, body: bytes) -> Result:
        try:
            resp = self._call(signal)(body, timeout=self.cfg.timeout, metadata=self.metadata,
                                      compression=self.compression)
        except grpc.RpcError as err:
            code = err.code() if hasattr(err, "code") else grpc.StatusCode.UNKNOWN
            message = f"{code.name}: {err.details() if hasattr(err, 'details') else err}"
            delay = _retry_delay(err)
            if code in _RETRYABLE or (code == grpc.StatusCode.RESOURCE_EXHAUSTED and delay is not None):
                return Result(RETRY, message, delay)
            return Result(DROP, message)
        ps = resp.partial_success
        rejected = getattr(ps, "rejected_spans", 0) or getattr(ps, "rejected_log_records", 0) or \
            getattr(ps, "rejected_data_points", 0)
        return Result(SENT, ps.error_message, rejected=rejected)

    def close(self) -> None:
        self.channel.close()


factory = otlp_factory(GRPC, "otlp", GrpcTransport)
