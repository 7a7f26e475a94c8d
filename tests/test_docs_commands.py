"""The shell commands in README.md and docs/*.md run as written, so a doc command cannot silently break.

Each document's runnable blocks (see tests/support/doc_blocks.py for how a block says it cannot run here)
run in order in one bash script, ``set -euo pipefail``, from a scratch directory that links the
repository's top-level entries (so ``collector/config/...`` and ``scripts/...`` resolve and whatever a
command writes lands in the scratch directory). Background jobs a block starts (``... &``) are stopped
when the script ends. Where the kernel allows it the script runs in its own network namespace, so the
documented fixed ports (4317, 16686, ...) cannot collide with anything else on the machine.
"""

from __future__ import annotations

import functools
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from otel_cot.demo.stack import tools_dir

from .support.doc_blocks import ROOT, Block, all_blocks, blocks, doc_files

TIMEOUT = 600


@functools.lru_cache(maxsize=1)
def own_network_namespace() -> bool:
    try:
        return subprocess.run(["unshare", "-n", "ip", "link", "set", "lo", "up"], capture_output=True,
                              timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _scratch(tmp_path: Path) -> Path:
    work = tmp_path / "cwd"
    work.mkdir()
    for entry in ROOT.iterdir():
        if not entry.name.startswith(".") and entry.name not in ("otel-cot-demo.html",):
            (work / entry.name).symlink_to(entry)
    return work


def _script(runnable: list[Block], logs: Path) -> str:
    parts = ["set -euo pipefail",
             # stop the background jobs (Jaeger, the collector) however the script ends
             "trap 'kill $(jobs -p) 2>/dev/null || true; wait' EXIT"]
    for i, block in enumerate(runnable):
        parts.append(f"echo {i} > {logs}/current")
        parts.append("{\n" + block.code.rstrip("\n") + f"\n}} > {logs}/{i}.log 2>&1")
    parts.append(f"echo done > {logs}/current")
    return "\n".join(parts) + "\n"


def run_blocks(runnable: list[Block], tmp_path: Path) -> list[str]:
    """Run the blocks as one script; fail with the failing block's location and output. Each block's
    output, in order."""
    logs = tmp_path / "logs"
    logs.mkdir()
    script = tmp_path / "doc.sh"
    script.write_text(_script(runnable, logs))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "XDG_"))}
    env.update(PATH=os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", ""), NO_COLOR="1")
    # A home of its own: doc commands install agent hooks, write policies and state under ~ (the Go tools
    # the e2e blocks need stay where the install scripts cached them).
    home = tmp_path / "home"
    home.mkdir()
    env.update(HOME=str(home), OTEL_COT_TOOLS_DIR=tools_dir())
    cmd = ["bash", str(script)]
    if own_network_namespace():
        cmd = ["unshare", "-n", "bash", "-c", 'ip link set lo up && exec bash "$0"', str(script)]
    proc = subprocess.Popen(cmd, cwd=_scratch(tmp_path), env=env, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        out, _ = proc.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        pytest.fail(f"timed out after {TIMEOUT}s in {_current(runnable, logs)}\n{out[-3000:]}")
    finally:
        try:  # whatever the script left running in its process group
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    outputs = [(logs / f"{i}.log").read_text(errors="replace") if (logs / f"{i}.log").exists() else ""
               for i in range(len(runnable))]
    if proc.returncode != 0:
        where = _current(runnable, logs)
        i = next((i for i, b in enumerate(runnable) if b.where == where), -1)
        pytest.fail(f"{where} failed (exit {proc.returncode}):\n{runnable[i].code if i >= 0 else ''}\n"
                    f"--- its output ---\n{outputs[i][-4000:] if i >= 0 else ''}\n{out[-2000:]}")
    for block, output in zip(runnable, outputs):
        if "expect" in block.directives:
            assert re.search(block.directives["expect"], output, re.M), \
                f"{block.where}: output does not match {block.directives['expect']!r}:\n{output[-4000:]}"
    return outputs


def _current(runnable: list[Block], logs: Path) -> str:
    try:
        marker = (logs / "current").read_text().strip()
    except OSError:
        return "before the first block"
    return "after the last block" if marker == "done" else runnable[int(marker)].where


def _doc_params() -> list:
    params = []
    for path in doc_files():
        runnable = [b for b in blocks(path) if b.runs_here]
        if not runnable:
            continue
        mark = pytest.mark.e2e if any("e2e" in b.directives for b in runnable) else pytest.mark.process
        params.append(pytest.param(str(path.relative_to(ROOT)), marks=mark, id=str(path.relative_to(ROOT))))
    return params


@pytest.mark.parametrize("doc", _doc_params())
def test_the_commands_of_a_doc_run_as_written(doc, tmp_path):
    runnable = [b for b in blocks(ROOT / doc) if b.runs_here]
    if any("e2e" in b.directives for b in runnable):
        # Build (or find) the Go programs first: the script may run without network access.
        for script in ("install-jaeger.sh", "install-otelcol.sh"):
            built = subprocess.run([str(ROOT / "scripts" / script)], capture_output=True, text=True, timeout=1500)
            assert built.returncode == 0, built.stderr[-3000:]
    run_blocks(runnable, tmp_path)


def test_every_block_that_does_not_run_here_says_why():
    for block in all_blocks():
        for kind in ("skip", "install"):
            if kind in block.directives:
                assert len(block.directives[kind]) > 10, f"{block.where}: doc-test {kind} without a reason"
        if "expect" in block.directives:
            re.compile(block.directives["expect"])


def test_ci_runs_the_readmes_second_command():
    commands = [b.code.strip() for b in blocks(ROOT / "README.md") if b.code.strip().startswith("python3 -m venv")]
    assert len(commands) == 2, commands
    ci = (ROOT / ".ci" / "run").read_text().strip().splitlines()
    assert ci[-1] == commands[1]
    assert "otel-cot demo" in commands[0] and "python -m pytest" in commands[1]


@pytest.mark.process
def test_a_failing_command_fails_with_its_place_and_output(tmp_path):
    doc = tmp_path / "x.md"
    doc.write_text("```bash\necho first\n```\n\n<!-- doc-test: skip: not this one, it needs a key -->\n"
                   "```bash\nexit 9\n```\n\n```console\n$ echo hi && sleep 60 &\n$ ls /nonexistent-dir\n"
                   "output line\n```\n")
    parsed = blocks(doc, root=tmp_path)
    assert [b.runs_here for b in parsed] == [True, False, True]
    assert parsed[2].code == "echo hi && sleep 60 &\nls /nonexistent-dir\n"
    with pytest.raises(pytest.fail.Exception) as failed:
        (tmp_path / "run").mkdir()
        run_blocks([b for b in parsed if b.runs_here], tmp_path / "run")
    message = str(failed.value)
    assert "x.md:10 failed (exit 2)" in message and "No such file or directory" in message

