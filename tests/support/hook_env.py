"""An isolated home for the hook tests: settings, state, policy and the checker's socket under temporary
directories, the checker stopped (by its pid if it will not stop) when the test ends."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from typing import Iterator

from tests.support.hook_replay import stop_checker

AGENT_VARIABLES = ("CLAUDE_CONFIG_DIR", "CODEX_HOME", "GEMINI_CLI_HOME", "OTEL_COT_HOOKS_SOCKET",
                   "OTEL_COT_HOOKS_TIMEOUT_MS", "OTEL_COT_HOOKS_START_MS", "OTEL_COT_HOOKS_PYTHON",
                   "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "XDG_RUNTIME_DIR")


def hook_env(home: str, **extra: str) -> Iterator[dict[str, str]]:
    """The environment of an agent whose hooks talk to a checker of their own; stops it afterwards."""
    os.makedirs(home, exist_ok=True)
    sock_dir = tempfile.mkdtemp(prefix="oc-", dir="/tmp")  # a unix socket path must stay short
    env = {k: v for k, v in os.environ.items() if k not in AGENT_VARIABLES}
    env.update(HOME=home, XDG_STATE_HOME=os.path.join(home, "state"), XDG_CONFIG_HOME=os.path.join(home, "config"),
               OTEL_COT_HOOKS_SOCKET=os.path.join(sock_dir, "hooks.sock"), OTEL_TRACES_EXPORTER="none",
               OTEL_COT_HOOKS_IDLE_S="300")
    env.update(extra)
    try:
        yield env
    finally:
        stop_checker(env, wait=False)  # its exit is waited for at the end of the run (tests/conftest.py)
        shutil.rmtree(sock_dir, ignore_errors=True)


def otel_cot(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "otel_cot.cli", *args], env=env, capture_output=True, text=True,
                          timeout=120)
