"""Fixtures for the end-to-end tests: real Jaeger v2, a real OpenTelemetry Collector (an ocb build), and
real otel-cot collector processes, all on 127.0.0.1 with free ports, stopped by PID even when a test fails.

The Go programs come from scripts/install-jaeger.sh and scripts/install-otelcol.sh, which build them once
(minutes, from the Go module proxy) and print the cached binary's path after that."""

from __future__ import annotations

import os
import subprocess
from typing import Any, Callable, Iterator

import pytest

from otel_cot.demo.stack import Jaeger, OtelCotCollector, Process

from .support import OtelCol

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _install(script: str) -> str:
    proc = subprocess.run([os.path.join(ROOT, "scripts", script)], capture_output=True, text=True, timeout=1500)
    assert proc.returncode == 0, f"scripts/{script} failed:\n{proc.stderr[-3000:]}"
    return proc.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="session")
def jaeger_bin() -> str:
    return _install("install-jaeger.sh")


@pytest.fixture(scope="session")
def otelcol_bin() -> str:
    return _install("install-otelcol.sh")


@pytest.fixture
def procs() -> Iterator[Callable[[Process], Any]]:
    """Start processes through this; each is stopped at teardown, in reverse order, whatever happened."""
    started: list[Process] = []

    def start(p: Process, *args: Any, **kwargs: Any) -> Any:
        started.append(p)
        return p.start(*args, **kwargs)

    yield start
    for p in reversed(started):
        p.stop()


@pytest.fixture
def jaeger(jaeger_bin, tmp_path, procs) -> Jaeger:
    return procs(Jaeger(str(tmp_path / "jaeger"), jaeger_bin))


@pytest.fixture
def make_collector(tmp_path, procs) -> Callable[..., OtelCotCollector]:
    count = [0]

    def make(endpoint: str, **kwargs: Any) -> OtelCotCollector:
        count[0] += 1
        return procs(OtelCotCollector(str(tmp_path / f"otel-cot-{count[0]}"), endpoint, **kwargs))

    return make


@pytest.fixture
def make_otelcol(otelcol_bin, tmp_path, procs) -> Callable[..., OtelCol]:
    def make(exporters: dict[str, Any], pipeline_exporters: list[str], **kwargs: Any) -> OtelCol:
        return procs(OtelCol(str(tmp_path / "otelcol"), otelcol_bin, exporters, pipeline_exporters, **kwargs))

    return make
