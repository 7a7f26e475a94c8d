"""``otel-cot`` run inside the test process, for the tests whose subject is what a command reads, writes and
prints rather than the process around it (those run the real command: ``tests/support/hook_env.otel_cot``,
``tests/test_cli_errors.py``'s ``run``). Starting an interpreter per command cost ~0.3 s a command."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
from typing import Mapping

from otel_cot.cli import main


def run_here(*args: str, env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``main(args)`` with stdout and stderr captured and, when given, ``env`` as the whole environment;
    returns what ``subprocess.run(..., capture_output=True, text=True)`` would."""
    saved = dict(os.environ)
    out, err = io.StringIO(), io.StringIO()
    try:
        if env is not None:
            os.environ.clear()
            os.environ.update(env)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                status = main(list(args))
            except SystemExit as exc:  # argparse's usage errors, --help, --version
                status = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return subprocess.CompletedProcess(["otel-cot", *args], status, out.getvalue(), err.getvalue())
