"""The collector process's own runtime settings, made by ``otel-cot-collector`` before it starts serving."""

from __future__ import annotations

import gc

import yaml
from collector_support import free_port

import otel_cot_collector.cli as cli
import otel_cot_collector.service as service
import otel_cot_collector.telemetry as telemetry

HOST = "127.0.0.1"


def test_the_collector_command_freezes_startup_objects_and_collects_the_young_and_middle_generations_less_often(
        tmp_path, monkeypatch):
    cfg = {
        "receivers": {"otlp": {"protocols": {"http": {"endpoint": f"{HOST}:{free_port()}"}}}},
        "exporters": {"otlp_http/x": {"endpoint": f"http://{HOST}:{free_port()}"}},
        "queue": {"directory": str(tmp_path / "queue")},
        "service": {"telemetry": {"endpoint": f"{HOST}:{free_port()}"},
                    "pipelines": {"traces": {"receivers": ["otlp"], "exporters": ["otlp_http/x"]}}},
    }
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(cfg))
    seen = {}

    def run(config):  # what the service would start with
        seen["threshold"] = gc.get_threshold()
        seen["frozen"] = gc.get_freeze_count()

    monkeypatch.setattr(service, "run", run)
    monkeypatch.setattr(telemetry, "setup_logging", lambda level: None)  # keep this test process's logging
    threshold = gc.get_threshold()
    try:
        assert cli.main(["--config", str(path)]) == 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)
    assert seen["threshold"] == cli.GC_THRESHOLD and cli.GC_THRESHOLD[0] > threshold[0]
    assert cli.GC_THRESHOLD[1] >= 1000  # the middle generation: rarely, the engine's held state lives there
    assert seen["frozen"] > 0
