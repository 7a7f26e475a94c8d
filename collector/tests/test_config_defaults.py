"""Every documented default of the service section (and of the receivers' endpoints) applies when its key
is omitted, in parse() and in ``--validate``."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import yaml
from collector_support import COLLECTOR_DIR, Sink, collector_config

from otel_cot_collector.config import ConfigError, parse


def full(tmp_path) -> dict:
    return collector_config(str(tmp_path / "q"), Sink())


def _drop(data: dict, path: str) -> None:
    *parents, last = path.split(".")
    for key in parents:
        data = data[key]
    del data[last]


@pytest.mark.parametrize("path, check", [
    ("service.telemetry", lambda c: (c.telemetry.host, c.telemetry.port, c.telemetry.log_level)
     == ("127.0.0.1", 8888, "info")),
    ("service.telemetry.endpoint", lambda c: (c.telemetry.host, c.telemetry.port) == ("127.0.0.1", 8888)),
    ("service.telemetry.log_level", lambda c: c.telemetry.log_level == "info"),
    ("service.shutdown_timeout", lambda c: c.shutdown_timeout == 10.0),
    ("service.pipelines.traces.processors", lambda c: c.pipelines["traces"].processors == []),
    ("service.pipelines.logs.processors", lambda c: c.pipelines["logs"].processors == []),
    ("queue.max_bytes", lambda c: c.queue.max_bytes == 256 << 20),
    ("receivers.otlp.protocols.grpc.endpoint", lambda c: (c.receivers["otlp"].grpc.host, c.receivers["otlp"].grpc.port)
     == ("127.0.0.1", 4317)),
    ("receivers.otlp.protocols.http.endpoint", lambda c: (c.receivers["otlp"].http.host, c.receivers["otlp"].http.port)
     == ("127.0.0.1", 4318)),
])
def test_omitted_key_takes_its_documented_default(tmp_path, path, check):
    data = full(tmp_path)
    if path == "service.pipelines.traces.processors":  # what needs them goes with them
        data["processors"] = {}
        data["service"]["pipelines"]["logs"].pop("processors")
    _drop(data, path)
    assert check(parse(data))


@pytest.mark.parametrize("path, message", [
    ("service.pipelines", r"service\.pipelines: define at least one of traces, logs, metrics"),
    ("service", r"service\.pipelines: define at least one of traces, logs, metrics"),
    ("service.pipelines.traces.receivers", r"service\.pipelines\.traces\.receivers: required"),
    ("service.pipelines.traces.exporters", r"service\.pipelines\.traces\.exporters: required"),
])
def test_omitted_required_key_is_named(tmp_path, path, message):
    data = full(tmp_path)
    _drop(data, path)
    with pytest.raises(ConfigError, match=message):
        parse(data)


@pytest.mark.process
def test_validate_accepts_a_config_without_telemetry(tmp_path):
    data = full(tmp_path)
    del data["service"]["telemetry"]
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(data))
    env = {**os.environ, "PYTHONPATH": COLLECTOR_DIR}
    out = subprocess.run([sys.executable, "-m", "otel_cot_collector", "--config", str(path), "--validate"],
                         capture_output=True, text=True, env=env, timeout=60)
    assert (out.returncode, out.stdout.strip()) == (0, "config ok"), out.stderr
