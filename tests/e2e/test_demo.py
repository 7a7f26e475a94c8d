"""`otel-cot demo` end to end: it starts Jaeger and the collector (or detects in-process), plays the bundled
recorded session, and prints the flagged trace's Jaeger URL."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest


NO_COLLECTOR = "import otel_cot.demo.stack as s; s.collector_command = lambda: None; "


@pytest.mark.e2e
@pytest.mark.parametrize("mode,prelude", [([], ""), (["--in-process"], ""), ([], NO_COLLECTOR)],
                         ids=["collector", "in_process", "collector_not_installed"])
def test_demo_prints_the_flagged_trace(mode, prelude, jaeger_bin, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env["OTEL_COT_JAEGER"] = jaeger_bin
    proc = subprocess.run([sys.executable, "-c", prelude + "import sys; from otel_cot.cli import main; sys.exit(main())",
                           "demo", "--exit", "--workdir", str(tmp_path), *mode],
                          env=env, capture_output=True, text=True, timeout=180)
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr
    assert re.search(r"^Flagged trace: http://127\.0\.0\.1:\d+/trace/[0-9a-f]{32}$", out, re.M), out
    assert re.search(r"flagged: chat claude-sonnet-4-0: reward_hacking \(high\)", out), out
    assert re.search(r"flagged: chat claude-sonnet-4-0: destructive_action \(high\)", out), out
    assert ("in-process" in out) == bool(mode or prelude), out
    assert ("otel-cot-collector is not installed" in out) == bool(prelude), out
    assert "Agent: played 3 recorded model calls" in out


@pytest.mark.process
def test_demo_without_jaeger_says_how_to_get_one(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env.update(OTEL_COT_TOOLS_DIR=str(tmp_path / "empty"), PATH="/nonexistent")
    proc = subprocess.run([sys.executable, "-c", "import sys; from otel_cot.cli import main; sys.exit(main())",
                           "demo", "--exit"], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "scripts/install-jaeger.sh" in proc.stdout and "--jaeger-url" in proc.stdout
