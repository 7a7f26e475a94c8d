"""Bearer-token auth and TLS on both receivers."""

from __future__ import annotations

import datetime
import ipaddress

import grpc
import pytest
import requests
from collector_support import wait_for
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpanExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from test_collector_e2e import raw_span_request, send_with_sdk

pytestmark = pytest.mark.process

PROTOBUF = {"Content-Type": "application/x-protobuf"}
TOKEN = "s3cret-token"


def grpc_call(channel):
    return channel.unary_unary("/opentelemetry.proto.collector.trace.v1.TraceService/Export",
                               request_serializer=None, response_deserializer=ExportTraceServiceResponse.FromString)


def test_bearer_token_on_both_protocols(sink, make_collector):
    collector = make_collector(sink, token=TOKEN).start()
    body = raw_span_request("1" * 32, "a" * 16).SerializeToString()
    url = f"http://{collector.http_endpoint}/v1/traces"
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
        r = requests.post(url, data=body, headers={**PROTOBUF, **headers}, timeout=10)
        assert r.status_code == 401 and r.headers["WWW-Authenticate"] == "Bearer"
    channel = grpc.insecure_channel(collector.grpc_endpoint)
    for metadata in ((), (("authorization", "Bearer wrong"),)):
        with pytest.raises(grpc.RpcError) as err:
            grpc_call(channel)(body, timeout=10, metadata=metadata)
        assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
    channel.close()
    assert collector.metric("otelcot_receiver_refused_requests_total") == 5
    assert sink.span_count() == 0

    auth = {"authorization": f"Bearer {TOKEN}"}
    grpc_id, _ = send_with_sdk(GrpcSpanExporter(endpoint=collector.grpc_endpoint, insecure=True, headers=auth),
                               "auth-grpc", "ls")
    http_id, _ = send_with_sdk(HttpSpanExporter(endpoint=url, headers=auth), "auth-http", "ls")
    wait_for(lambda: {grpc_id, http_id} <= set(sink.spans), 15, "authorized spans")


@pytest.fixture
def self_signed(tmp_path):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_path), str(key_path)


def test_tls_on_both_protocols(sink, make_collector, self_signed):
    cert, key = self_signed
    collector = make_collector(sink, tls=(cert, key), token=TOKEN).start()
    body = raw_span_request("2" * 32, "b" * 16).SerializeToString()
    auth = {"Authorization": f"Bearer {TOKEN}"}
    r = requests.post(f"https://{collector.http_endpoint}/v1/traces", data=body, headers={**PROTOBUF, **auth},
                      verify=cert, timeout=10)
    assert r.status_code == 200
    with pytest.raises(requests.exceptions.SSLError):  # not trusted without the CA
        requests.post(f"https://{collector.http_endpoint}/v1/traces", data=body, headers=PROTOBUF, timeout=10)
    with pytest.raises(requests.exceptions.ConnectionError):  # plaintext is refused
        requests.post(f"http://{collector.http_endpoint}/v1/traces", data=body, headers=PROTOBUF, timeout=10)

    with open(cert, "rb") as fh:
        creds = grpc.ssl_channel_credentials(fh.read())
    channel = grpc.secure_channel(collector.grpc_endpoint, creds)
    grpc_call(channel)(raw_span_request("3" * 32, "c" * 16).SerializeToString(), timeout=10,
                       metadata=(("authorization", f"Bearer {TOKEN}"),))
    channel.close()
    plain = grpc.insecure_channel(collector.grpc_endpoint)
    with pytest.raises(grpc.RpcError) as err:
        grpc_call(plain)(body, timeout=5, metadata=(("authorization", f"Bearer {TOKEN}"),))
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE
    plain.close()
    wait_for(lambda: {"b" * 16, "c" * 16} <= set(sink.spans), 15, "spans sent over TLS")


@pytest.mark.parametrize("exporter", ["otlp_grpc", "otlp_http"])
def test_exporter_trusts_the_backend_through_its_ca_file(tmp_path, self_signed, exporter):
    from collector_support import Collector, Sink, collector_config

    cert, key = self_signed
    sink = Sink(tls=(cert, key)).start()
    collectors = []
    try:
        def start(tls: dict, name: str) -> Collector:
            cfg = collector_config(str(tmp_path / name), sink, exporter=exporter)
            exp = cfg["exporters"][f"{exporter}/sink"]
            if exporter == "otlp_http":
                exp["endpoint"] = exp["endpoint"].replace("http://", "https://")
            exp["tls"] = tls
            if not tls:  # it keeps a batch it cannot deliver: stopping would wait the whole timeout to send it
                cfg["service"]["shutdown_timeout"] = "200ms"
            collectors.append(Collector(cfg, str(tmp_path)))
            return collectors[-1].start()

        trusted = start({"ca_file": cert}, "trusted")
        body = raw_span_request("4" * 32, "d" * 16).SerializeToString()
        url = f"http://{trusted.http_endpoint}/v1/traces"
        assert requests.post(url, data=body, headers=PROTOBUF, timeout=10).status_code == 200
        wait_for(lambda: "d" * 16 in sink.spans, 15, "a span exported over TLS with the CA file")

        # Without the CA the backend's certificate is not trusted: nothing is delivered, the batch is
        # kept and retried, and the collector stays up.
        untrusted = start({}, "untrusted")
        body = raw_span_request("5" * 32, "e" * 16).SerializeToString()
        url = f"http://{untrusted.http_endpoint}/v1/traces"
        assert requests.post(url, data=body, headers=PROTOBUF, timeout=10).status_code == 200
        wait_for(lambda: untrusted.metric("otelcot_exporter_retries_total") >= 1, 15,
                 "the failed TLS handshake counted")
        assert "e" * 16 not in sink.spans and untrusted.alive()
    finally:
        for c in collectors:
            c.stop()
        sink.stop()
