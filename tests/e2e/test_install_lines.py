"""Every install line of the README and docs/*.md (the blocks marked ``doc-test: install``) works as written
in a fresh virtualenv, from a fresh copy of the checkout: otel-cot is not on PyPI yet, so these lines
install from the checkout. The README's first command (venv, install, ``otel-cot demo``) runs whole, with
an empty tools cache: no Go build and no Jaeger, and it shows the flagged trace."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ..support.doc_blocks import ROOT, all_blocks

pytestmark = pytest.mark.e2e

INSTALL = [b for b in all_blocks() if "install" in b.directives]


@pytest.fixture(scope="module")
def checkout(tmp_path_factory) -> Path:
    """The working tree's files (tracked, and untracked but not ignored), as a fresh clone would have them."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, check=False)
    if listed.returncode != 0:
        pytest.skip("not a git checkout: cannot tell which files a clone has")
    dest = tmp_path_factory.mktemp("checkout") / "otel-cot"
    for name in filter(None, listed.stdout.decode().split("\0")):
        src = ROOT / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    return dest


def _env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "VIRTUAL_ENV", "PYTHON"))}
    ours = os.path.dirname(sys.executable)  # the test run's virtualenv: the command must not use it
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p and p != ours)
    env.update(OTEL_COT_TOOLS_DIR=str(tmp / "empty-tools"), NO_COLOR="1", TMPDIR=str(tmp))
    return env


def _bash(command: str, cwd: Path, tmp: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", "set -euo pipefail\n" + command], cwd=cwd, env=_env(tmp),
                          capture_output=True, text=True, timeout=1200)


def test_the_readmes_first_command_shows_the_flagged_trace(checkout, tmp_path):
    (first,) = [b for b in INSTALL if b.doc == "README.md"]
    proc = _bash(first.code, checkout, tmp_path)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-5000:]
    assert "Jaeger: none here" in out and "otel-cot-collector (pid" in out
    assert "⚑ HIGH reward_hacking" in out and "⚑ HIGH destructive_action" in out
    report = checkout / "otel-cot-demo.html"
    assert f"HTML report: file://{report}" in out and "remove the failing assertions" in report.read_text()
    assert not list(tmp_path.glob("otel-cot-demo-*")), "the demo left its temporary directory"
    assert not (tmp_path / "empty-tools").exists() or not any((tmp_path / "empty-tools").iterdir())


@pytest.mark.parametrize("line", sorted({b.code.strip() for b in INSTALL if b.doc != "README.md"}))
def test_a_documented_install_line_works_in_a_fresh_virtualenv(line, checkout, tmp_path):
    venv = tmp_path / "venv"
    check = "otel-cot --help >/dev/null"
    if "collector" in line:
        check += " && otel-cot-collector --config collector/config/standalone-jaeger.yaml --validate"
    if "[demo]" in line:
        check += " && python -c 'import anthropic'"
    proc = _bash(f"python3 -m venv {venv} && . {venv}/bin/activate\n{line}\n{check}", checkout, tmp_path)
    assert proc.returncode == 0, f"{line}\n{(proc.stdout + proc.stderr)[-5000:]}"
