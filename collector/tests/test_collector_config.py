"""Config loading: env substitution, precise validation errors, the example configs."""

from __future__ import annotations

import glob
import os
import subprocess
import sys

import pytest
import yaml
from collector_support import COLLECTOR_DIR, Sink, collector_config

from otel_cot_collector.config import ConfigError, load, parse, substitute_env


def base(tmp_path) -> dict:
    return collector_config(str(tmp_path / "q"), Sink())


def write(tmp_path, data) -> str:
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(data) if not isinstance(data, str) else data)
    return str(path)


def test_env_substitution():
    env = {"PORT": "4317", "EMPTY": ""}
    assert substitute_env("a: ${env:PORT}\nb: ${env:MISSING:-x}\nc: '${env:EMPTY}'", env) == "a: 4317\nb: x\nc: ''"
    with pytest.raises(ConfigError, match=r"line 2: environment variable NOPE is not set"):
        substitute_env("a: 1\nb: ${env:NOPE}", env)


def test_env_substitution_in_a_file(tmp_path):
    data = base(tmp_path)
    data["exporters"]["otlp_grpc/sink"]["endpoint"] = "127.0.0.1:${env:SINK_PORT}"
    path = write(tmp_path, yaml.safe_dump(data).replace("'127.0.0.1:${env:SINK_PORT}'", "127.0.0.1:${env:SINK_PORT}"))
    cfg = load(path, {"SINK_PORT": "9999"})
    assert cfg.exporters["otlp_grpc/sink"].endpoint == "127.0.0.1:9999"


@pytest.mark.parametrize("edit, message", [
    (lambda d: d["exporters"]["otlp_grpc/sink"].pop("endpoint"), r"exporters\.otlp_grpc/sink\.endpoint: required"),
    (lambda d: d["exporters"]["otlp_grpc/sink"].update(timout="1s"),
     r"exporters\.otlp_grpc/sink\.timout: unknown key \(allowed here: .*timeout"),
    (lambda d: d["processors"]["group_by_trace"].update(wait_duration="soon"),
     r"processors\.group_by_trace\.wait_duration: expected a duration like 5s"),
    (lambda d: d["queue"].update(max_bytes="lots"), r"queue\.max_bytes: expected a size like 64MiB"),
    (lambda d: d["receivers"]["otlp"]["protocols"]["grpc"].update(endpoint="4317"),
     r"receivers\.otlp\.protocols\.grpc\.endpoint: expected host:port"),
    (lambda d: d["service"]["pipelines"]["traces"].update(exporters=["otlp_grpc/nope"]),
     r"service\.pipelines\.traces\.exporters: 'otlp_grpc/nope' is not defined under exporters"),
    (lambda d: d["service"]["pipelines"]["traces"].update(processors=["detect", "group_by_trace"]),
     r"service\.pipelines\.traces\.processors: group_by_trace must come first"),
    (lambda d: d["service"]["pipelines"]["logs"].update(processors=["sampling"]),
     r"service\.pipelines\.logs\.processors: sampling does not apply to logs"),
    (lambda d: d["processors"].update({"batch": {}}), r"processors\.batch: unknown processor type 'batch'"),
    (lambda d: d["exporters"].update({"kafka": {"endpoint": "x:1"}}), r"exporters\.kafka: unknown exporter type"),
    (lambda d: d["processors"]["sampling"].update(keep_fraction=2), r"keep_fraction: must be between 0 and 1"),
    (lambda d: d["receivers"]["otlp"]["protocols"]["http"].update(tls={"cert_file": "/nope.pem", "key_file": "/k"}),
     r"receivers\.otlp\.protocols\.http\.tls\.cert_file: file not found: /nope.pem"),
    (lambda d: d["receivers"]["otlp"]["protocols"]["http"].update(auth={"bearer_token": ""}),
     r"bearer_token: must not be empty"),
    (lambda d: d.pop("queue"), r"queue\.directory: required"),
])
def test_validation_errors_name_the_key(tmp_path, edit, message):
    data = base(tmp_path)
    edit(data)
    with pytest.raises(ConfigError, match=message):
        parse(data)


@pytest.mark.process
def test_cli_reports_invalid_config_and_exits_2(tmp_path):
    data = base(tmp_path)
    data["service"]["pipelines"]["traces"]["exporters"] = []
    path = write(tmp_path, data)
    env = {**os.environ, "PYTHONPATH": COLLECTOR_DIR}
    out = subprocess.run([sys.executable, "-m", "otel_cot_collector", "--config", path], capture_output=True,
                         text=True, env=env, timeout=60)
    assert out.returncode == 2
    assert f"{path}: service.pipelines.traces.exporters: list at least one exporter" in out.stderr


@pytest.mark.parametrize("path", sorted(glob.glob(os.path.join(COLLECTOR_DIR, "config", "*.yaml"))))
def test_example_configs_validate(path):
    if path.endswith("otelcol-front.yaml"):  # the OpenTelemetry Collector's own config
        assert yaml.safe_load(open(path))["exporters"]["load_balancing/traces"]["routing_key"] == "traceID"
        return
    cfg = load(path, {"OTEL_COT_TOKEN": "t", "BACKEND_TOKEN": "b"})
    assert cfg.pipelines["traces"].processors[:2] == ["group_by_trace", "detect"]
