"""The ``otlp_http`` exporter (alias ``otlphttp``): OTLP/HTTP with protobuf bodies; 429/502/503/504 and
network errors retry, honouring Retry-After."""

from __future__ import annotations

import email.utils
import gzip
import time

import requests

from .. import otlp
from .base import DROP, RETRY, SENT, Result, Transport
from .otlp_config import HTTP, ExporterConfig, otlp_factory

_RETRYABLE = {429, 502, 503, 504}


def retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class HttpTransport(Transport):
    def __init__(self, cfg: ExporterConfig) -> None:
        self.cfg = cfg
        self.base = cfg.endpoint.rstrip("/")
        self.session = requests.Session()
        self.session.headers.update(cfg.headers)
        self.session.headers["Content-Type"] = "application/x-protobuf"
        if cfg.compression == "gzip":
            self.session.headers["Content-Encoding"] = "gzip"
        self.verify: bool | str = cfg.ca_file or (not cfg.insecure)

    def send(self, signal: otlp.Signal, body: bytes) -> Result:
        data = gzip.compress(body, compresslevel=1) if self.cfg.compression == "gzip" else body
        try:
            resp = self.session.post(self.base + signal.http_path, data=data, timeout=self.cfg.timeout,
                                     verify=self.verify)
        except requests.RequestException as exc:
            return Result(RETRY, f"{type(exc).__name__}: {exc}")
        if resp.status_code == 200:
            rejected, message = 0, ""
            if resp.content and resp.headers.get("content-type", "").startswith("application/x-protobuf"):
                try:
                    ps = signal.response.FromString(resp.content).partial_success
                    rejected = getattr(ps, "rejected_spans", 0) or getattr(ps, "rejected_log_records", 0) or \
                        getattr(ps, "rejected_data_points", 0)
                    message = ps.error_message
                except Exception:
                    pass
            return Result(SENT, message, rejected=rejected)
        message = f"HTTP {resp.status_code}: {resp.text[:300]}"
        if resp.status_code in _RETRYABLE:
            return Result(RETRY, message, retry_after(resp.headers.get("retry-after")))
        return Result(DROP, message)

    def close(self) -> None:
        self.session.close()


factory = otlp_factory(HTTP, "otlphttp", HttpTransport)
