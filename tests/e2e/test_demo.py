"""`otel-cot demo` end to end with Jaeger: it starts Jaeger and the collector (or detects in-process), plays
the bundled recorded session, shows the flagged trace, and says where it is in Jaeger: the Jaeger that
scripts/install-jaeger.sh builds has no UI, so the demo must say so and give the API URL instead of the
placeholder page. (Without Jaeger: tests/test_demo.py.)"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.request

import pytest

from otel_cot.demo.stack import PLACEHOLDER_UI, jaeger_ui, otlp_spans

NO_COLLECTOR = "import otel_cot.demo.stack as s; s.collector_command = lambda: None; "


@pytest.mark.e2e
@pytest.mark.parametrize("mode,prelude", [([], ""), (["--in-process"], ""), ([], NO_COLLECTOR)],
                         ids=["collector", "in_process", "collector_not_installed"])
def test_demo_stores_the_flagged_trace_in_jaeger_and_says_it_has_no_ui(mode, prelude, jaeger_bin, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env["OTEL_COT_JAEGER"] = jaeger_bin
    proc = subprocess.run([sys.executable, "-c", prelude + "import sys; from otel_cot.cli import main; sys.exit(main())",
                           "demo", "--workdir", str(tmp_path), "--html", str(tmp_path / "r.html"), *mode],
                          env=env, capture_output=True, text=True, timeout=180)
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr
    assert re.search(r"flagged: chat claude-sonnet-4-0: reward_hacking \(high\)", out), out
    assert re.search(r"flagged: chat claude-sonnet-4-0: destructive_action \(high\)", out), out
    assert ("in-process" in out) == bool(mode or prelude), out
    assert ("otel-cot-collector is not installed" in out) == bool(prelude), out
    assert "Agent: played 3 recorded model calls" in out
    # no link to the placeholder page as the place to look; the API URL, which Jaeger answered
    assert "has no UI" in out and "/trace/" not in out.split("Jaeger: stored the trace")[1], out
    assert "jaegertracing/jaeger" in out
    api = re.search(r"^  as OTLP JSON: (http://127\.0\.0\.1:\d+/api/v3/traces/[0-9a-f]{32})$", out, re.M).group(1)
    assert "Press Ctrl-C" not in out  # nothing to look at in a Jaeger without a UI: the demo exits
    assert api  # (Jaeger is stopped now; the same URL was answered while it ran: see the next test)
    assert "flagged" in (tmp_path / "r.html").read_text()


@pytest.mark.e2e
def test_a_jaeger_without_ui_assets_is_detected(jaeger):
    state = jaeger_ui(jaeger.url, "0" * 32)
    assert state == "placeholder"
    with urllib.request.urlopen(jaeger.url + "/search", timeout=5) as resp:
        assert PLACEHOLDER_UI in resp.read().decode()


@pytest.mark.e2e
def test_demo_with_jaeger_url_uses_that_jaeger(jaeger, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env["OTEL_COT_TOOLS_DIR"] = str(tmp_path / "empty")  # no local Jaeger to start: only the given one
    proc = subprocess.run([sys.executable, "-m", "otel_cot.demo", "--jaeger-url", jaeger.url, "--jaeger-otlp",
                           jaeger.otlp_http, "--html", str(tmp_path / "r.html")],
                          env=env, capture_output=True, text=True, timeout=180)
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr
    assert f"Jaeger: using {jaeger.url}" in out
    api = re.search(r"as OTLP JSON: (\S+)", out).group(1)
    with urllib.request.urlopen(api, timeout=5) as resp:
        spans = otlp_spans(json.loads(resp.read())["result"])
    flagged = sorted(c for s in spans if s["attrs"].get("cot.flagged") for c in s["attrs"]["cot.finding.categories"])
    assert flagged == ["destructive_action", "reward_hacking"]
