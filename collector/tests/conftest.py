"""Fixtures for the collector suite: a loopback sink and a collector process per test (or module)."""

from __future__ import annotations

import os
import sys
from typing import Iterator

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "bench"))  # throughput: the load of bench/collector.py

from collector_support import Collector, Sink, collector_config  # noqa: E402
from tests.support.native import compiled  # noqa: E402


@pytest.fixture
def sink() -> Iterator[Sink]:
    s = Sink().start()
    yield s
    s.stop()


@pytest.fixture
def make_collector(tmp_path):
    started: list[Collector] = []

    def make(sink: Sink, **kwargs) -> Collector:
        cfg = collector_config(str(tmp_path / "queue"), sink, **kwargs)
        c = Collector(cfg, str(tmp_path))
        started.append(c)
        return c

    yield make
    for c in started:
        c.stop()


@pytest.fixture(scope="module")
def shared(tmp_path_factory) -> Iterator[tuple[Sink, Collector]]:
    """One sink and one collector for a module of read-only end-to-end tests."""
    workdir = tmp_path_factory.mktemp("collector")
    s = Sink().start()
    c = Collector(collector_config(str(workdir / "queue"), s), str(workdir)).start()
    yield s, c
    c.stop()
    s.stop()


@pytest.fixture
def span_wire():
    """The compiled wire reader ``otel_cot_collector._span_wire`` (built for the test if need be, and also
    under ``OTEL_COT_NATIVE=off``): what the wire tests compare against the protobuf runtime."""
    return compiled("otel_cot_collector._span_wire")
