"""OTLP/gRPC receiver on ``grpc.aio``; requests arrive as raw bytes so the accepted bytes are queued as-is."""

from __future__ import annotations

from typing import Any, Callable

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from .. import otlp
from .. import ingest
from ..ingest import Ingest
from .otlp_config import ProtocolConfig

_CODES = {
    ingest.INVALID: code_pb2.INVALID_ARGUMENT,
    ingest.FULL: code_pb2.UNAVAILABLE,
    ingest.UNAVAILABLE: code_pb2.UNAVAILABLE,
    ingest.UNIMPLEMENTED: code_pb2.UNIMPLEMENTED,
}


def _status(outcome: ingest.Outcome) -> Any:
    st = status_pb2.Status(code=_CODES[outcome.status], message=outcome.message[:1024])
    if outcome.status in (ingest.FULL, ingest.UNAVAILABLE):
        d = any_pb2.Any()
        d.Pack(error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(seconds=ingest.RETRY_AFTER_S)))
        st.details.append(d)
    elif outcome.status == ingest.INVALID:
        d = any_pb2.Any()
        d.Pack(error_details_pb2.BadRequest(field_violations=[
            error_details_pb2.BadRequest.FieldViolation(field="request", description=outcome.message[:1024])]))
        st.details.append(d)
    return rpc_status.to_status(st)


def _handler(ing: Ingest, signal: otlp.Signal, token: str | None) -> Callable:
    async def export(request: bytes, context: grpc.aio.ServicerContext) -> Any:
        if token is not None:
            auth = dict(context.invocation_metadata() or ()).get("authorization")
            if not ing.authorized(token, auth):
                ing.refuse("grpc", "unauthenticated")
                await context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing or wrong bearer token")
        outcome = await ing.accept(signal, request, False, "grpc")
        if outcome.status != ingest.OK:
            st = _status(outcome)
            await context.abort(st.code, st.details, trailing_metadata=st.trailing_metadata)
        return outcome.response
    return export


def build_server(ing: Ingest, cfg: ProtocolConfig) -> tuple[grpc.aio.Server, int]:
    """A started-later server bound to ``cfg``'s endpoint; returns it and the bound port."""
    server = grpc.aio.server(options=[
        ("grpc.max_receive_message_length", cfg.max_request_bytes),
        ("grpc.max_send_message_length", 4 << 20),
        ("grpc.so_reuseport", 0),
    ])
    for signal in otlp.SIGNALS.values():
        method = grpc.unary_unary_rpc_method_handler(
            _handler(ing, signal, cfg.bearer_token),
            request_deserializer=None,  # raw bytes: parsed once by Ingest, queued unchanged
            response_serializer=signal.response.SerializeToString,
        )
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(signal.grpc_service,
                                                                              {"Export": method}),))
    address = f"{cfg.host}:{cfg.port}"
    try:
        if cfg.tls:
            with open(cfg.tls.key_file, "rb") as k, open(cfg.tls.cert_file, "rb") as c:
                creds = grpc.ssl_server_credentials([(k.read(), c.read())])
            port = server.add_secure_port(address, creds)
        else:
            port = server.add_insecure_port(address)
    except RuntimeError:  # grpc's "Failed to bind to address ...; set GRPC_VERBOSITY=debug ..."
        port = 0
    if port == 0:
        raise OSError(f"cannot listen on {address} for OTLP/gRPC (address in use, or not an address of this "
                      "machine)")
    return server, port
