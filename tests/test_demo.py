"""``otel-cot demo`` with no Jaeger anywhere, as on a fresh machine: the whole chain (the real anthropic SDK ->
OTLP -> the otel-cot collector process -> OTLP -> the demo's receiver) shows the flagged trace in the
terminal and as the HTML report, and leaves no temporary directory behind. The demo package reaches the
collector only as a program. (With Jaeger: tests/e2e/test_demo.py.)"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.process
# A demo run is the whole chain (SDK -> collector process -> receiver): end to end, out of the quick loop.
whole_chain = pytest.mark.e2e

NO_COLLECTOR = "import otel_cot.demo.stack as s; s.collector_command = lambda: None; "
HAS_COLLECTOR = importlib.util.find_spec("otel_cot_collector") is not None


def _python(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=60)


def _demo(tmp_path: Path, *args: str, prelude: str = "") -> subprocess.CompletedProcess:
    """The demo with no Jaeger to find (an empty tools cache, nothing on PATH) and TMPDIR in tmp_path."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    (tmp_path / "tmp").mkdir(exist_ok=True)
    env.update(OTEL_COT_TOOLS_DIR=str(tmp_path / "empty-tools"), PATH="/usr/bin:/bin", TMPDIR=str(tmp_path / "tmp"),
               NO_COLOR="1")
    cwd = tmp_path / "cwd"
    cwd.mkdir(exist_ok=True)
    return subprocess.run([sys.executable, "-c", prelude + "import sys; from otel_cot.cli import main; sys.exit(main())",
                           "demo", *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=180)


@pytest.mark.skipif(not HAS_COLLECTOR, reason="otel-cot-collector not installed")
def test_the_collector_is_found_without_importing_it():
    proc = _python("-c", "import sys; from otel_cot.demo.stack import collector_command; "
                         "print(collector_command()); print('otel_cot_collector' in sys.modules)")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [repr([sys.executable, "-m", "otel_cot_collector"]), "False"]


def test_python_m_otel_cot_demo_is_the_demo_command():
    proc = _python("-m", "otel_cot.demo", "--help")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("usage: otel-cot demo") and "--jaeger-url" in proc.stdout


def _assert_flagged_trace_shown(out: str, report: Path) -> None:
    assert "Jaeger: none here" in out, out
    assert re.search(r"^trace [0-9a-f]{32} · otel-cot-demo · .* · 8 spans · 2 flagged$", out, re.M), out
    assert re.search(r"^├─ chat claude-sonnet-4-0 +[\d.]+ ms  ⚑ reward_hacking$", out, re.M), out
    assert "⚑ → calls bash {\"command\": \"git push --force origin main\"}" in out
    assert "reasoning: The test_empty case in tests/test_parser.py" in out
    assert "flagged: chat claude-sonnet-4-0: reward_hacking (high)" in out
    assert "flagged: chat claude-sonnet-4-0: destructive_action (high)" in out
    assert f"HTML report: file://{report}" in out
    page = report.read_text()
    assert page.count('<li class="sev-high">') == 2 and "remove the failing assertions" in page


@pytest.mark.skipif(not HAS_COLLECTOR, reason="otel-cot-collector not installed")
@whole_chain
def test_without_jaeger_the_demo_shows_the_flagged_trace_through_the_collector(tmp_path):
    proc = _demo(tmp_path, "--exit")
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr
    assert re.search(r"^Collector: otel-cot-collector \(pid \d+\) on http://127\.0\.0\.1:\d+ \(OTLP/HTTP\), "
                     r"detectors on; exports to http://127\.0\.0\.1:\d+ in this process$", out, re.M), out
    assert "in-process" not in out
    _assert_flagged_trace_shown(out, tmp_path / "cwd" / "otel-cot-demo.html")
    assert os.listdir(tmp_path / "tmp") == [], "the demo left its temporary directory behind"


@whole_chain
def test_without_the_collector_the_detectors_run_in_the_agent(tmp_path):
    proc = _demo(tmp_path, "--html", str(tmp_path / "r.html"), prelude=NO_COLLECTOR)
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr
    assert "Detectors: in-process" in out and "otel-cot-collector is not installed" in out
    assert "pip install ./collector" in out
    _assert_flagged_trace_shown(out, tmp_path / "r.html")
    assert os.listdir(tmp_path / "tmp") == []


@pytest.mark.skipif(not HAS_COLLECTOR, reason="otel-cot-collector not installed")
@whole_chain
def test_keep_and_workdir_keep_the_logs(tmp_path):
    proc = _demo(tmp_path, "--keep", "--in-process")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (kept,) = os.listdir(tmp_path / "tmp")
    assert kept.startswith("otel-cot-demo-") and f"Kept {tmp_path / 'tmp' / kept}" in proc.stdout

    workdir = tmp_path / "work"
    proc = _demo(tmp_path, "--workdir", str(workdir))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (workdir / "collector" / "collector.log").exists() and (workdir / "collector" / "collector.yaml").exists()


@pytest.mark.skipif(not HAS_COLLECTOR, reason="otel-cot-collector not installed")
@whole_chain
def test_a_failure_keeps_the_logs_and_says_where(tmp_path):
    # the collector holds a trace 300 ms before judging it: a zero timeout gives up at the first look
    proc = _demo(tmp_path, "--timeout", "0")
    assert proc.returncode == 1
    assert "demo failed: timed out after 0s waiting for the trace in this process's OTLP receiver" in proc.stdout
    (kept,) = os.listdir(tmp_path / "tmp")
    assert f"Logs and configs kept in {tmp_path / 'tmp' / kept}" in proc.stdout


def test_otlp_endpoint_without_a_jaeger_to_read_from_is_a_usage_error(tmp_path):
    proc = _demo(tmp_path, "--otlp-endpoint", "http://127.0.0.1:4318")
    assert proc.returncode == 2 and "--otlp-endpoint needs --jaeger-url" in proc.stdout
    assert os.listdir(tmp_path / "tmp") == []


def test_jaeger_ui_tells_a_ui_from_the_placeholder_page():
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from otel_cot.demo.stack import PLACEHOLDER_UI, free_port, jaeger_ui

    pages = {"/trace/" + "a" * 32: b"<!doctype html><title>Jaeger UI</title><div id=jaeger-ui-root></div>",
             "/trace/" + "b" * 32: f"<h1>\xf0\x9f\xa5\x8b: {PLACEHOLDER_UI}!</h1>".encode("latin-1")}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            body = pages.get(self.path, b"")
            self.send_response(200 if body else 404)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        assert jaeger_ui(url, "a" * 32) == "ui"
        assert jaeger_ui(url, "b" * 32) == "placeholder"
        assert jaeger_ui(url, "c" * 32) == "unreachable"
        assert jaeger_ui(f"http://127.0.0.1:{free_port()}", "a" * 32) == "unreachable"
    finally:
        server.shutdown()
        server.server_close()


def test_free_port_does_not_hand_out_a_port_it_gave_recently():
    # The kernel gives a port back to later binds once its socket is closed (~30 repeats in 1,000 plain
    # binds here), and a stack's ports are chosen together before anything binds them.
    from otel_cot.demo.stack import free_port
    ports = [free_port() for _ in range(1000)]
    assert len(set(ports)) == len(ports)
