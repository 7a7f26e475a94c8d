"""The demo package reaches the otel-cot collector only as a program: it finds it without importing it.
``python -m otel_cot.demo`` is ``otel-cot demo``. (The demo end to end, with Jaeger: tests/e2e/test_demo.py.)"""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest

pytestmark = pytest.mark.process


def _python(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=60)


@pytest.mark.skipif(importlib.util.find_spec("otel_cot_collector") is None, reason="otel-cot-collector not installed")
def test_the_collector_is_found_without_importing_it():
    proc = _python("-c", "import sys; from otel_cot.demo.stack import collector_command; "
                         "print(collector_command()); print('otel_cot_collector' in sys.modules)")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [repr([sys.executable, "-m", "otel_cot_collector"]), "False"]


def test_python_m_otel_cot_demo_is_the_demo_command():
    proc = _python("-m", "otel_cot.demo", "--help")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("usage: otel-cot demo") and "--jaeger-url" in proc.stdout
