"""The compiled accelerators for the differential tests (see otel_cot/native.py): imported directly, so the
tests run under ``OTEL_COT_NATIVE=off`` too. Where a module is not built, its tests are skipped when no C
compiler is there (an install without one runs the pure-Python path) and fail when one is (the install
should have built it: ``pip install -e . -e ./collector``)."""

from __future__ import annotations

import importlib
import shlex
import shutil
import sysconfig
from types import ModuleType

import pytest


def has_compiler() -> bool:
    cc = sysconfig.get_config_var("CC") or "cc"
    return shutil.which(shlex.split(cc)[0]) is not None


def compiled(name: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ImportError:
        if has_compiler():
            pytest.fail(f"{name} is not built although a C compiler is here: pip install -e . -e ./collector")
        pytest.skip(f"{name} is not built (no C compiler): the pure-Python path is the one in use")
