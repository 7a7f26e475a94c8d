"""otel_cot.compiled_modules: the opt-in compiled build asks for Cython and adds its extensions only when
``OTEL_COT_COMPILE=1`` and the build is not an editable one; the module list leaves out what must stay Python;
``python -m otel_cot.native`` says which modules a process imports compiled. (The build itself, the install
and its findings: tests/e2e/test_compiled_build.py.)"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from setuptools import build_meta

from otel_cot import compiled_modules
from tests.support.native import compiled

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = {"otel_cot": ROOT / "otel_cot", "otel_cot_collector": ROOT / "collector" / "otel_cot_collector"}


@pytest.fixture
def hooks(monkeypatch):
    """The build backends' hooks over a setuptools backend that asks for nothing itself."""
    for name in ("get_requires_for_build_wheel", "get_requires_for_build_editable"):
        monkeypatch.setattr(build_meta, name, lambda config_settings=None: ["wheel"])

    def make(value: str) -> dict:
        monkeypatch.setenv(compiled_modules.ENV, value)
        return compiled_modules.backend_hooks()
    return make


@pytest.mark.parametrize("value", ["1", "true"])
def test_a_compiled_wheel_build_asks_for_cython(hooks, value):
    made = hooks(value)
    assert made["get_requires_for_build_wheel"]() == ["wheel", compiled_modules.CYTHON]
    assert made["get_requires_for_build_editable"]() == ["wheel"]  # an editable build stays pure


@pytest.mark.parametrize("value", ["", "0", "no"])
def test_a_pure_build_does_not(hooks, value):
    assert hooks(value)["get_requires_for_build_wheel"]() == ["wheel"]


def test_setup_adds_the_compiled_modules_only_to_a_requested_wheel_build(monkeypatch):
    package = PACKAGES["otel_cot_collector"]
    monkeypatch.delenv("OTEL_COT_EDITABLE_BUILD", raising=False)
    monkeypatch.setenv(compiled_modules.ENV, "")
    assert compiled_modules.setup_arguments("otel_cot_collector", package) == {}
    monkeypatch.setenv(compiled_modules.ENV, "1")
    made = compiled_modules.setup_arguments("otel_cot_collector", package)
    assert {ext.name for ext in made["ext_modules"]} == set(compiled_modules.hot_files("otel_cot_collector", package))
    assert all(not ext.optional for ext in made["ext_modules"])  # asked for: a failure fails the build
    monkeypatch.setenv("OTEL_COT_EDITABLE_BUILD", "1")
    assert compiled_modules.setup_arguments("otel_cot_collector", package) == {}


def test_the_list_leaves_out_inits_and_what_must_stay_python(monkeypatch):
    found = compiled_modules.hot_files("otel_cot", PACKAGES["otel_cot"])
    assert "otel_cot.detectors.engine" in found and found["otel_cot.detectors.engine"] == "otel_cot/detectors/engine.py"
    assert not any(name.endswith("__init__") for name in found)
    monkeypatch.setitem(compiled_modules.HOT, "otel_cot_collector", ("receivers/*.py",))
    receivers = compiled_modules.hot_files("otel_cot_collector", PACKAGES["otel_cot_collector"])
    assert "otel_cot_collector.receivers.grpc_receiver" in receivers
    assert "otel_cot_collector.receivers.http_receiver" not in receivers


def test_a_checkout_runs_every_module_as_python():
    names = compiled_modules.hot_modules()
    assert len(names) >= 30
    assert not any(map(compiled_modules.is_compiled, names))


def test_a_compiled_module_is_told_apart():
    compiled("otel_cot._construct")  # the C accelerator: a compiled module beside the hot ones
    assert compiled_modules.is_compiled("otel_cot._construct")
    assert not compiled_modules.is_compiled("otel_cot.detectors.engine")
    assert not compiled_modules.is_compiled("otel_cot.no_such_module")


@pytest.mark.process
def test_native_reports_the_accelerators_and_the_compiled_modules():
    out = subprocess.run([sys.executable, "-m", "otel_cot.native", "--json"], capture_output=True, text=True,
                         check=True, cwd=ROOT).stdout
    state = json.loads(out)
    assert set(state["compiled_modules"]) == set(compiled_modules.hot_modules())
    assert set(state["accelerators"]) == {"otel_cot._construct", "otel_cot_collector._span_wire"}
    text = subprocess.run([sys.executable, "-m", "otel_cot.native"], capture_output=True, text=True, check=True,
                          cwd=ROOT).stdout
    assert "0 of " in text and "otel_cot.detectors.engine" in text
