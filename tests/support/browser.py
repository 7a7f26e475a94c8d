"""Debian's Chromium, headless, for tests that must see a page as a browser renders it: the DOM after
parsing and scripts (``--dump-dom``) and a screenshot. The browser is found on PATH (or
``$OTEL_COT_CHROMIUM``) and otherwise installed by ``scripts/install-chromium.sh``; a test skips, naming
why, when neither works."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
          "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions",
          "--hide-scrollbars", "--mute-audio"]


def chromium() -> str:
    """The browser's path; installs it when missing, or skips the test with the reason."""
    found = os.environ.get("OTEL_COT_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    proc = subprocess.run([os.path.join(ROOT, "scripts", "install-chromium.sh")], capture_output=True,
                          text=True, timeout=900)
    if proc.returncode != 0 or not proc.stdout.strip():
        pytest.skip("Chromium is not installed and scripts/install-chromium.sh could not install it: "
                    + (proc.stderr.strip().splitlines() or ["no output"])[-1])
    return proc.stdout.strip().splitlines()[-1]


def _run(args: list[str]) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory(prefix="otel-cot-chromium-") as profile:
        proc = subprocess.run([chromium(), *_FLAGS, f"--user-data-dir={profile}", *args], capture_output=True,
                              text=True, timeout=120)
    assert proc.returncode == 0, f"chromium {args}: exit {proc.returncode}\n{proc.stderr[-2000:]}"
    return proc


def rendered_dom(url: str) -> str:
    """The page's DOM, serialised after it loaded and its scripts ran."""
    return _run(["--dump-dom", url]).stdout


def screenshot(url: str, path: str, width: int = 1400, height: int = 1600) -> str:
    _run([f"--screenshot={path}", f"--window-size={width},{height}", url])
    assert os.path.getsize(path) > 0, path
    return path
