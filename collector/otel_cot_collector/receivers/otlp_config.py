"""The config of the ``otlp`` receiver: which protocols, where they listen, limits, auth, TLS."""

from __future__ import annotations

from dataclasses import dataclass

from ..config_parsing import ConfigError, Section, endpoint, existing_file, integer, size

GRPC_PORT, HTTP_PORT = 4317, 4318
MAX_REQUEST_BYTES = 64 << 20


@dataclass
class TLSServer:
    cert_file: str
    key_file: str


@dataclass
class ProtocolConfig:
    host: str
    port: int
    max_request_bytes: int = MAX_REQUEST_BYTES
    bearer_token: str | None = None
    tls: TLSServer | None = None


@dataclass
class ReceiverConfig:
    grpc: ProtocolConfig | None = None
    http: ProtocolConfig | None = None


def _protocol(s: Section, default_port: int) -> ProtocolConfig:
    host, port = s.get("endpoint", ("127.0.0.1", default_port), endpoint)
    max_bytes = s.get("max_request_body_size", MAX_REQUEST_BYTES, size)
    if "max_recv_msg_size_mib" in s.data:
        max_bytes = s.get("max_recv_msg_size_mib", None, integer(1, 4096)) << 20
    auth = s.section("auth")
    token = auth.get("bearer_token", None, lambda v, p: str(v))
    if token == "":
        raise ConfigError(f"{auth.sub('bearer_token')}: must not be empty (remove auth to disable it)")
    auth.done()
    tls = None
    if s.data.get("tls") is not None:
        t = s.section("tls")
        tls = TLSServer(cert_file=t.get("cert_file", required=True, conv=existing_file),
                        key_file=t.get("key_file", required=True, conv=existing_file))
        t.done()
    s.done()
    return ProtocolConfig(host, port, max_bytes, token, tls)


def parse(s: Section, d: ReceiverConfig) -> ReceiverConfig:
    protocols = s.section("protocols")
    grpc_cfg, http_cfg = d.grpc, d.http
    if "grpc" in protocols.data:
        grpc_cfg = _protocol(protocols.section("grpc"), GRPC_PORT)
    if "http" in protocols.data:
        http_cfg = _protocol(protocols.section("http"), HTTP_PORT)
    protocols.done()
    if grpc_cfg is None and http_cfg is None:
        raise ConfigError(f"{protocols.path}: enable at least one of grpc, http")
    return ReceiverConfig(grpc_cfg, http_cfg)
