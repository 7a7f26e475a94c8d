"""Markers that follow from what a test does, for both test trees (tests/ and collector/tests/).

- Every test under ``tests/e2e/`` is ``e2e``.
- A test that starts a subprocess must be marked ``process``: one that is not fails, naming the command, so
  that ``-m "not process"`` really runs no subprocess and the markers stay true as tests are added.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import tempfile
from typing import Any, Iterator

import pytest

_E2E_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tests", "e2e") + os.sep


# The SDKs' platform headers call platform.processor(), which runs `uname -p` once per process: run it before
# any test, so that it is not counted against whichever test happens to build the first client.
platform.processor()

# Every test gives its processes a home of their own, so each checker, collector and CLI they start would compile
# the Hyperscan databases again (about a second each, see otel_cot/textscan/backends.py cache_dir). One cache for
# the whole run, outside the user's home; a test of the cache itself sets the variable for itself.
_TEXTSCAN_CACHE = None
if "OTEL_COT_TEXTSCAN_CACHE" not in os.environ:
    _TEXTSCAN_CACHE = os.environ["OTEL_COT_TEXTSCAN_CACHE"] = tempfile.mkdtemp(prefix="otel-cot-textscan-")


def pytest_unconfigure(config: pytest.Config) -> None:
    if _TEXTSCAN_CACHE is not None:
        shutil.rmtree(_TEXTSCAN_CACHE, ignore_errors=True)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if str(item.path).startswith(_E2E_DIR):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(autouse=True)
def _subprocesses_only_in_process_tests(request: pytest.FixtureRequest,
                                        monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    if "process" in request.keywords or "e2e" in request.keywords:
        yield
        return
    started: list[Any] = []
    original = subprocess.Popen.__init__

    def recording_init(self: subprocess.Popen, args: Any, *rest: Any, **kwargs: Any) -> None:
        started.append(args)
        original(self, args, *rest, **kwargs)

    monkeypatch.setattr(subprocess.Popen, "__init__", recording_init)
    yield
    if started:
        pytest.fail(f"this test starts a subprocess ({started[0]!r}) but is not marked `process`", pytrace=False)
