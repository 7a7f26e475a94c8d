"""Instrumenting on import, in process, on small stand-in libraries written to a temporary folder: a library's
instrumentor is switched on when the library is imported (``InstrumentOnImport``), and each wrap target waits for
its own module (``CotInstrumentor``), so that instrumenting imports nothing the application would not."""

from __future__ import annotations

import importlib
import sys
import textwrap
import threading
from importlib.metadata import EntryPoint
from typing import Any, Callable, Iterator

import pytest
import wrapt
from opentelemetry.sdk.trace import TracerProvider

from otel_cot.config import Settings
from otel_cot.instrumentation.on_import import InstrumentOnImport
from otel_cot.instrumentation.providers import ENTRY_POINT_GROUP, Provider

PROBE_INSTRUMENTORS = """
from otel_cot.instrumentation import _base
switched_on = []


class Probe(_base.CotInstrumentor):
    def _targets(self, telemetry):
        switched_on.append(telemetry)
        return [("probe_lib.lazy", "Thing.run", lambda wrapped, instance, args, kwargs: ("wrapped", wrapped()))]

    def _uninstrument(self, **kwargs):
        super()._uninstrument(**kwargs)
        switched_on.clear()


class Broken(Probe):
    def __init__(self):
        raise RuntimeError("instrumentor bug")
"""

# Like openai's resource packages: the package loads its submodule on first attribute access.
PROBE_LIB = {
    "probe_lib/__init__.py": """
        import importlib

        def __getattr__(name):
            if name == "lazy":
                return importlib.import_module(".lazy", __name__)
            raise AttributeError(name)
        """,
    "probe_lib/lazy.py": """
        class Thing:
            def run(self):
                return "ran"
        """,
}


@pytest.fixture
def probe(tmp_path, monkeypatch) -> Iterator[Callable[..., InstrumentOnImport]]:
    """``probe_lib`` (not imported yet) and ``probe_instr`` (our instrumentors for it); yields a function making
    the ``InstrumentOnImport`` of one of them."""
    for name, text in PROBE_LIB.items():
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text(textwrap.dedent(text))
    (tmp_path / "probe_instr.py").write_text(PROBE_INSTRUMENTORS)
    monkeypatch.syspath_prepend(str(tmp_path))
    hooks: list[InstrumentOnImport] = []

    def make(cls: str = "Probe", module: str = "probe_lib") -> InstrumentOnImport:
        entry_point = EntryPoint("otel_cot_probe", f"probe_instr:{cls}", ENTRY_POINT_GROUP)
        hooks.append(InstrumentOnImport(Provider("probe", entry_point, module, ()), TracerProvider(), Settings()))
        return hooks[-1]

    yield make
    for hook in hooks:
        hook.uninstrument()
    for name in [m for m in sys.modules if m.split(".")[0] in ("probe_lib", "probe_instr")]:
        del sys.modules[name]


def _is_wrapped(thing: Any) -> bool:
    return isinstance(vars(thing)["run"], wrapt.FunctionWrapper)


def test_the_library_import_switches_the_instrumentor_on_and_each_target_waits_for_its_module(probe):
    hook = probe().arm()
    assert "probe_instr" not in sys.modules  # nothing of the instrumentation before the library's import
    import probe_lib
    import probe_instr

    assert hook.instrumentor is not None and len(probe_instr.switched_on) == 1
    assert "probe_lib.lazy" not in sys.modules  # the library's lazy module stays unloaded
    thing = probe_lib.lazy.Thing  # loads it: the wrap follows
    assert _is_wrapped(thing) and thing().run() == ("wrapped", "ran")
    hook.uninstrument()
    assert not _is_wrapped(thing) and probe_instr.switched_on == [] and hook.instrumentor is None


def test_a_target_module_loaded_from_the_packages_getattr_inside_a_hook_does_not_deadlock(probe):
    """The hook on ``probe_lib`` resolves ``lazy.Thing.run`` through the package's ``__getattr__``, which imports
    ``probe_lib.lazy``, whose own hook then runs: no lock may be held across that import."""
    import probe_instr  # noqa: F401 - the class below is looked up in it

    class Deep(probe_instr.Probe):
        def _targets(self, telemetry):
            return [("probe_lib.lazy", "Thing.run", lambda w, i, a, k: "inner"),  # waits for probe_lib.lazy
                    ("probe_lib", "lazy.Thing.run", lambda w, i, a, k: "outer")]  # loads it

    probe_instr.Deep = Deep
    probe("Deep").arm()
    importer = threading.Thread(target=importlib.import_module, args=("probe_lib",), daemon=True)
    importer.start()
    importer.join(60)
    assert not importer.is_alive(), "deadlocked"
    thing = sys.modules["probe_lib.lazy"].Thing
    assert thing().run() in ("outer", "inner") and _is_wrapped(thing)


def test_uninstrumented_before_a_targets_module_is_loaded_it_stays_unwrapped(probe):
    hook = probe().arm()
    import probe_lib

    hook.uninstrument()
    assert not _is_wrapped(probe_lib.lazy.Thing)


def test_a_disarmed_hook_does_nothing_when_the_library_is_imported_later(probe):
    hook = probe().arm()
    hook.uninstrument()  # shutdown() before the library's import: wrapt cannot take the hook back
    import probe_lib  # noqa: F401

    assert "probe_instr" not in sys.modules and hook.instrumentor is None


@pytest.mark.expects_internal_errors
def test_a_failing_hook_never_fails_the_users_import(probe, internal_errors):
    """wrapt lets an exception in a post-import hook fail the import; ours reports it and the import succeeds."""
    probe("Broken").arm()
    import probe_lib

    assert probe_lib.lazy.Thing().run() == "ran"
    assert [(where, str(exc)) for where, exc in internal_errors] == [
        ("instrumenting probe on import", "instrumentor bug")]
