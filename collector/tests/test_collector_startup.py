"""What keeps the collector from starting is one line on stderr naming the file, key or address, and a
non-zero exit (2 for a config that cannot work here), never a traceback; ``--validate`` finds the same
problems without starting. Each case runs the real ``otel-cot-collector`` command."""

from __future__ import annotations

import functools
import os
import re
import socket
import subprocess
import sys
import time

import pytest
import yaml
from collector_support import COLLECTOR_DIR, free_port

pytestmark = pytest.mark.process

HOST = "127.0.0.1"


def _config(tmp_path, **changes) -> dict:
    cfg = {
        "receivers": {"otlp": {"protocols": {"grpc": {"endpoint": f"{HOST}:{free_port()}"},
                                             "http": {"endpoint": f"{HOST}:{free_port()}"}}}},
        "exporters": {"otlp_http/x": {"endpoint": f"http://{HOST}:{free_port()}"}},
        "queue": {"directory": str(tmp_path / "queue")},
        "service": {"telemetry": {"endpoint": f"{HOST}:{free_port()}"}, "shutdown_timeout": "1s",
                    "pipelines": {"traces": {"receivers": ["otlp"], "exporters": ["otlp_http/x"]}}},
    }
    cfg.update(changes)
    return cfg


def _write(tmp_path, cfg: dict, name: str = "c.yaml") -> str:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(cfg))
    return str(path)


def _collector(*args: str, prelude: str = "", timeout: float = 60) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env["PYTHONPATH"] = COLLECTOR_DIR
    code = prelude + "import sys; from otel_cot_collector.cli import main; sys.exit(main())"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env,
                          timeout=timeout)


def _one_line_error(proc: subprocess.CompletedProcess, code: int = 2) -> str:
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    return lines[0]


@pytest.mark.parametrize("content, says", [
    (b"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00>\x00", "binary file"),
    (b"receivers:\n  otlp: \xff\xfe\n", "not UTF-8 text (byte 0xff at offset 19)"),
])
@pytest.mark.parametrize("validate", [True, False], ids=["validate", "run"])
def test_a_binary_config_file_is_one_line(tmp_path, content, says, validate):
    path = tmp_path / "c.yaml"
    path.write_bytes(content)
    line = _one_line_error(_collector("--config", str(path), *(["--validate"] if validate else [])))
    assert line.startswith(f"otel-cot-collector: invalid config: {path}: ") and says in line, line


def test_invalid_yaml_is_one_line_with_its_place(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("receivers:\n  otlp: [1, 2\nqueue: {}\n")
    line = _one_line_error(_collector("--config", str(path), "--validate"))
    assert f"{path}: invalid YAML at line 3, column 6: expected ',' or ']', but got ':'" in line, line


@pytest.fixture
def busy_port():
    with socket.socket() as s:
        s.bind((HOST, 0))
        s.listen()
        yield s.getsockname()[1]


@pytest.mark.parametrize("where", ["grpc", "http", "telemetry"])
@pytest.mark.parametrize("validate", [True, False], ids=["validate", "run"])
def test_an_address_in_use_is_one_line_naming_it(tmp_path, busy_port, where, validate):
    cfg = _config(tmp_path)
    key = {"grpc": "receivers.otlp.protocols.grpc.endpoint", "http": "receivers.otlp.protocols.http.endpoint",
           "telemetry": "service.telemetry.endpoint"}[where]
    node = cfg
    *parents, last = key.split(".")
    for part in parents:
        node = node[part]
    node[last] = f"{HOST}:{busy_port}"
    started = time.monotonic()
    line = _one_line_error(_collector("--config", _write(tmp_path, cfg), *(["--validate"] if validate else [])))
    assert f"{key}: {HOST}:{busy_port} is already in use" in line, line
    assert time.monotonic() - started < 30
    assert not (tmp_path / "queue").exists(), "nothing is created for a collector that cannot start"


def test_two_components_on_one_address_is_a_config_error(tmp_path):
    cfg = _config(tmp_path)
    port = free_port()
    cfg["receivers"]["otlp"]["protocols"]["http"]["endpoint"] = f"{HOST}:{port}"
    cfg["service"]["telemetry"]["endpoint"] = f"0.0.0.0:{port}"
    line = _one_line_error(_collector("--config", _write(tmp_path, cfg), "--validate"))
    assert (f"service.telemetry.endpoint: 0.0.0.0:{port} is also receivers.otlp.protocols.http.endpoint "
            f"({HOST}:{port})") in line, line


def test_an_address_not_of_this_machine(tmp_path):
    cfg = _config(tmp_path)
    cfg["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"] = "192.0.2.1:4317"  # TEST-NET-1, never local
    line = _one_line_error(_collector("--config", _write(tmp_path, cfg), "--validate"))
    assert "receivers.otlp.protocols.grpc.endpoint: cannot listen on 192.0.2.1:4317" in line, line


def test_an_unusable_queue_directory(tmp_path):
    (tmp_path / "file").write_text("not a directory")
    cfg = _config(tmp_path, queue={"directory": str(tmp_path / "file")})
    line = _one_line_error(_collector("--config", _write(tmp_path, cfg), "--validate"))
    assert f"queue.directory: {tmp_path / 'file'} is not a directory" in line, line

    (tmp_path / "q").mkdir()
    (tmp_path / "q" / "queue.sqlite3").write_text("something else entirely " * 100)
    cfg = _config(tmp_path, queue={"directory": str(tmp_path / "q")})
    line = _one_line_error(_collector("--config", _write(tmp_path, cfg)))
    assert f"queue.directory: {tmp_path / 'q' / 'queue.sqlite3'} is not an otel-cot queue" in line, line


def test_a_tls_file_that_is_not_a_certificate(tmp_path):
    (tmp_path / "cert.pem").write_text("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
    (tmp_path / "key.pem").write_text("no key here\n")
    cfg = _config(tmp_path)
    cfg["receivers"]["otlp"]["protocols"]["grpc"]["tls"] = {"cert_file": str(tmp_path / "cert.pem"),
                                                            "key_file": str(tmp_path / "key.pem")}
    line = _one_line_error(_collector("--config", _write(tmp_path, cfg), "--validate"))
    assert "receivers.otlp.protocols.grpc.tls: cannot load the certificate and key" in line, line

    cfg = _config(tmp_path)
    cfg["exporters"]["otlp_http/x"]["tls"] = {"ca_file": str(tmp_path / "key.pem")}
    line = _one_line_error(_collector("--config", _write(tmp_path, cfg), "--validate"))
    assert "exporters.otlp_http/x.tls.ca_file: cannot load" in line, line


def test_a_detector_config_that_does_not_load(tmp_path):
    (tmp_path / "detectors.yaml").write_text("detectors:\n  plugins: ['no_such_module_xyz:make']\n")
    cfg = _config(tmp_path, processors={"detect": {"config_file": str(tmp_path / "detectors.yaml")}})
    cfg["service"]["pipelines"]["traces"]["processors"] = ["detect"]
    line = _one_line_error(_collector("--config", _write(tmp_path, cfg), "--validate"))
    assert "processors.detect.config_file: " in line and "no_such_module_xyz" in line, line


def test_a_port_taken_after_the_check_is_still_one_line(tmp_path, busy_port):
    """The check and the bind are not atomic: a port taken in between fails the start with one line too."""
    cfg = _config(tmp_path)
    cfg["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"] = f"{HOST}:{busy_port}"
    skip_check = "import otel_cot_collector.cli as cli; cli.problems = lambda cfg: []; "
    proc = _collector("--config", _write(tmp_path, cfg), prelude=skip_check)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    *others, line = proc.stderr.strip().splitlines()
    assert line == (f"otel-cot-collector: cannot start: receivers.otlp: cannot listen on {HOST}:{busy_port} "
                    "for OTLP/gRPC (address in use, or not an address of this machine)"), line
    # before it: the service's JSON log lines (it had started its queue) and gRPC's own C-core log lines
    assert all(o.startswith("{") or re.match(r"E\d{4} ", o) for o in others), others


@functools.lru_cache(maxsize=1)
def _own_network_namespace() -> bool:
    try:
        return subprocess.run(["unshare", "-n", "true"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def test_omitted_keys_take_their_defaults_when_running(tmp_path):
    """No receiver endpoints and no service.telemetry: the collector listens on 127.0.0.1:4317/4318 and
    serves /healthz on 127.0.0.1:8888 (in a network namespace of its own, where those ports are free)."""
    if not _own_network_namespace():
        pytest.skip("needs `unshare -n` (a network namespace) to use the default ports without clashing")
    cfg = _config(tmp_path)
    cfg["receivers"] = {"otlp": {"protocols": {"grpc": {}, "http": {}}}}
    del cfg["service"]["telemetry"]
    path = _write(tmp_path, cfg)
    probe = ("import sys, time, urllib.request\n"
             "for _ in range(300):\n"
             "    try:\n"
             "        print(urllib.request.urlopen('http://127.0.0.1:8888/healthz', timeout=1).status,"
             " urllib.request.urlopen(urllib.request.Request('http://127.0.0.1:4318/v1/traces', data=b'',"
             " headers={'content-type': 'application/x-protobuf'}), timeout=1).status)\n"
             "        sys.exit(0)\n"
             "    except Exception as e:\n"
             "        last = e; time.sleep(0.1)\n"
             "sys.exit(f'not serving: {last}')\n")
    script = (f"ip link set lo up; PYTHONPATH={COLLECTOR_DIR} {sys.executable} -m otel_cot_collector --config {path} "
              f"& pid=$!; {sys.executable} -c \"$0\"; status=$?; kill -TERM $pid; wait $pid; exit $status")
    proc = subprocess.run(["unshare", "-n", "bash", "-c", script, probe], capture_output=True, text=True,
                          timeout=120, env={k: v for k, v in os.environ.items() if not k.startswith("OTEL_")})
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    assert proc.stdout.split() == ["200", "200"], proc.stdout
