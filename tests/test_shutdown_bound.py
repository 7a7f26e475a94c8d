"""A backend that is down does not hold the application at exit: ``shutdown()`` and interpreter exit spend at most
``shutdown_timeout`` on it, and say so in one warning line.

Each test runs a real script in a fresh interpreter against a real unreachable endpoint: a closed loopback port
(connection refused: the OTLP exporter retries with backoff) or a black hole (a listening socket that never
answers: the request waits for its timeout). Without the bound, exit takes the exporter's own timeout
(``OTEL_EXPORTER_OTLP_TIMEOUT``, 10 s: about 7 s of retries on a refused port, 10 s in a black hole); the tests
give 1 s and check the exit took well under those 7 s, with a wide margin for a loaded machine.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Iterator

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from otel_cot._export import BoundedSpanProcessor
from otel_cot.config import DEFAULT_SHUTDOWN_TIMEOUT, ConfigurationError, Settings

pytestmark = pytest.mark.process  # most tests run a script in a fresh interpreter

ROOT = Path(__file__).resolve().parent.parent
UNBOUNDED_EXIT_S = 7.0
"""The least an unbounded exit spends on a refused port: the OTLP exporter's backoff, 1 + 2 + 4 s."""

SCRIPT = """
import sys, time
import otel_cot
otel_cot.init(service_name="bound-test"{init_args})

@otel_cot.tool
def step(i: int) -> int:
    return i

for i in range({spans}):
    step(i)
{ending}
print("ENDING", time.time(), flush=True)
"""


@pytest.fixture
def closed_port() -> Iterator[str]:
    """A loopback port nothing listens on (connection refused). The port stays bound (never listening) for the
    test's length: a port closed at once could be handed to another test's server before the script runs."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    yield f"http://127.0.0.1:{s.getsockname()[1]}"
    s.close()


@pytest.fixture
def black_hole() -> Iterator[str]:
    """A loopback port that accepts connections (the kernel completes them) and never answers."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(64)
    yield f"http://127.0.0.1:{s.getsockname()[1]}"
    s.close()


def _exit_after(endpoint: str, *, spans: int = 1, ending: str = "", init_args: str = "",
                env: dict[str, str] | None = None) -> tuple[float, str, str]:
    """Run the script; (seconds from its last line to the process's end, stdout, stderr)."""
    code = textwrap.dedent(SCRIPT).format(spans=spans, ending=ending, init_args=init_args)
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    full_env.update({"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, **(env or {})})
    proc = subprocess.Popen([sys.executable, "-c", code], env=full_env, cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    out, err = proc.communicate(timeout=120)
    ended = time.time()
    assert proc.returncode == 0, err
    marker = next(line for line in out.splitlines() if line.startswith("ENDING"))
    return ended - float(marker.split()[1]), out, err


def _one_warning(err: str, count: str, endpoint: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1, f"expected one warning line, got:\n{err}"
    assert lines[0].startswith(f"otel-cot: {count} not delivered to {endpoint}/v1/traces"), lines[0]
    assert "within 1 s" in lines[0] and "OTEL_COT_SHUTDOWN_TIMEOUT" in lines[0]


@pytest.mark.parametrize("backend", ["closed_port", "black_hole"])
def test_interpreter_exit_is_bounded_with_one_warning_line(backend, request):
    endpoint = request.getfixturevalue(backend)
    seconds, _, err = _exit_after(endpoint, env={"OTEL_COT_SHUTDOWN_TIMEOUT": "1"})
    assert seconds < UNBOUNDED_EXIT_S - 2, f"exit took {seconds:.1f} s"
    _one_warning(err, "1 span was", endpoint)


@pytest.mark.parametrize("backend", ["closed_port", "black_hole"])
def test_shutdown_is_bounded_by_the_init_argument(backend, request):
    endpoint = request.getfixturevalue(backend)
    ending = "t = time.monotonic(); otel_cot.shutdown(); print('SHUTDOWN', time.monotonic() - t)"
    seconds, out, err = _exit_after(endpoint, spans=3, ending=ending, init_args=", shutdown_timeout=1")
    in_shutdown = float(next(line for line in out.splitlines() if line.startswith("SHUTDOWN")).split()[1])
    assert in_shutdown < UNBOUNDED_EXIT_S - 2 and seconds < UNBOUNDED_EXIT_S - 2, (in_shutdown, seconds)
    _one_warning(err, "3 spans were", endpoint)


def test_every_batch_left_is_counted(closed_port):
    """Past the deadline the remaining batches are not tried: they are counted, and exit stays bounded."""
    seconds, _, err = _exit_after(closed_port, spans=1500, env={"OTEL_COT_SHUTDOWN_TIMEOUT": "1"})
    assert seconds < UNBOUNDED_EXIT_S - 2, f"exit took {seconds:.1f} s"
    _one_warning(err, "1500 spans were", closed_port)


@pytest.mark.parametrize("backend", ["closed_port", "black_hole"])
def test_an_export_already_waiting_at_exit_does_not_hold_it(backend, request):
    """The batch processor's own thread is mid-export (retrying, or waiting on a silent backend) when the
    application ends: exit is still bounded, and the one line says what was lost. (The exporter's warnings from
    before the exit are the SDK's own.)"""
    endpoint = request.getfixturevalue(backend)
    ending = "time.sleep(1.5)\nfor i in range(5): step(i)"
    seconds, _, err = _exit_after(endpoint, spans=3, ending=ending,
                                  env={"OTEL_COT_SHUTDOWN_TIMEOUT": "1", "OTEL_BSP_SCHEDULE_DELAY": "100"})
    assert seconds < UNBOUNDED_EXIT_S - 2, f"exit took {seconds:.1f} s"
    ours = [line for line in err.splitlines() if line.startswith("otel-cot:")]
    assert len(ours) == 1 and "Traceback" not in err, err
    # Refused: shutting the exporter down ends its retries, so all 8 are counted. Silent: the request in flight
    # cannot be interrupted; its 3 spans are counted, the 5 queued behind it cannot be.
    expected = "8 spans were" if backend == "closed_port" else "at least 3 spans were"
    assert ours[0].startswith(f"otel-cot: {expected} not delivered to {endpoint}/v1/traces"), ours[0]


def test_a_working_backend_gets_every_span_at_exit_without_shutdown(sink):
    """The OTLP exporter is made on its first export, here at interpreter exit: the spans still arrive."""
    _, _, err = _exit_after(sink.url, spans=3)
    assert err == ""
    assert sorted(s["name"] for s in sink.spans()) == ["execute_tool step"] * 3


def test_init_imports_no_otlp_exporter_until_something_is_exported():
    code = ("import sys, otel_cot\notel_cot.init()\n"
            "print(sorted(m for m in ('requests', 'google.protobuf', "
            "'opentelemetry.exporter.otlp.proto.http.trace_exporter') if m in sys.modules))")
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


# --- the setting ---------------------------------------------------------------------------------------
def test_the_shutdown_timeout_setting(caplog):
    assert Settings.from_env({}).shutdown_timeout == DEFAULT_SHUTDOWN_TIMEOUT
    assert Settings.from_env({"OTEL_COT_SHUTDOWN_TIMEOUT": "0.5"}).shutdown_timeout == 0.5
    assert Settings.from_env({"OTEL_COT_SHUTDOWN_TIMEOUT": "20"}).shutdown_timeout == 20
    # The OTLP export timeout (seconds, as the Python exporters read it) lowers the default, never raises it.
    assert Settings.from_env({"OTEL_EXPORTER_OTLP_TIMEOUT": "1"}).shutdown_timeout == 1
    assert Settings.from_env({"OTEL_EXPORTER_OTLP_TIMEOUT": "10000"}).shutdown_timeout == DEFAULT_SHUTDOWN_TIMEOUT
    assert Settings.from_env({"OTEL_EXPORTER_OTLP_TIMEOUT": "5", "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT": "2"}
                             ).shutdown_timeout == 2
    assert Settings.from_env({"OTEL_EXPORTER_OTLP_TIMEOUT": "1", "OTEL_COT_SHUTDOWN_TIMEOUT": "8"}).shutdown_timeout == 8
    assert Settings.from_env({"OTEL_COT_SHUTDOWN_TIMEOUT": "8"}, shutdown_timeout=0.25).shutdown_timeout == 0.25
    for bad in ("soon", "-1", "nan", "inf"):
        caplog.clear()
        assert Settings.from_env({"OTEL_COT_SHUTDOWN_TIMEOUT": bad}).shutdown_timeout == DEFAULT_SHUTDOWN_TIMEOUT
        assert "ignoring OTEL_COT_SHUTDOWN_TIMEOUT" in caplog.text
    with pytest.raises(ConfigurationError, match="shutdown_timeout"):
        Settings.from_env({}, shutdown_timeout=-1)


# --- the processor in process --------------------------------------------------------------------------
class _Backend(SpanExporter):
    """An exporter standing in for a backend: answers at once, or waits until released (``hang``)."""

    def __init__(self, hang: bool) -> None:
        self.released = threading.Event()
        self.hang = hang
        self.received: list[str] = []

    def export(self, spans):
        if self.hang:
            self.released.wait(60)
            return SpanExportResult.FAILURE
        self.received += [s.name for s in spans]
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        self.released.set()


def _provider_with(backend: _Backend, shutdown_timeout: float = 30.0) -> tuple[TracerProvider, BoundedSpanProcessor]:
    provider = TracerProvider(shutdown_on_exit=False)
    processor = BoundedSpanProcessor(backend, shutdown_timeout)
    provider.add_span_processor(processor)
    for name in ("a", "b"):
        provider.get_tracer("t").start_span(name).end()
    return provider, processor


def test_a_flush_that_delivers_reports_nothing(caplog):
    backend = _Backend(hang=False)
    provider, processor = _provider_with(backend)
    with caplog.at_level(logging.WARNING, logger="otel_cot"):
        assert processor.force_flush(5000) is True
        processor.shutdown()
    assert sorted(backend.received) == ["a", "b"] and caplog.text == ""


def test_a_flush_honours_its_timeout_and_counts_what_it_lost(caplog):
    """The SDK's own force_flush ignores its timeout (it would wait here for the backend's 60 s)."""
    backend = _Backend(hang=True)
    provider, processor = _provider_with(backend)
    with caplog.at_level(logging.WARNING, logger="otel_cot"):
        assert processor.force_flush(300) is False
    (record,) = caplog.records
    assert record.getMessage().startswith("otel-cot: 2 spans were not delivered to _Backend: ")
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="otel_cot"):
        processor.shutdown(timeout_millis=300)  # shutting the exporter down releases it
    assert backend.released.is_set() and caplog.text == ""
