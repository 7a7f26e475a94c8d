"""Optional compiled accelerators and their pure-Python equivalents.

Two small C extensions (plain CPython C API) are built when the package is installed and a C compiler is
there: ``otel_cot._construct`` (instances made field by field, and the views of a plain tool-call or
reasoning span with their dedupe keys, for the detector engine) and, in the collector,
``otel_cot_collector._span_wire`` (a span record read from the span's protobuf bytes). They are optional:
without a compiler the install skips them and the same results come from Python, more slowly.
``OTEL_COT_NATIVE=off`` forces the Python path in a process that has them. A module compiled from a
different version of its C source than the one beside it (a checkout whose ``.c`` changed since the last
``pip install -e .``) is not used either: a warning says to rebuild.

``python -m otel_cot.native [--json]`` says which accelerators a process uses and which modules of the opt-in
compiled build (``OTEL_COT_COMPILE=1`` wheels, otel_cot/compiled_modules.py) it imports compiled.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import importlib.util
import logging
import os
from pathlib import Path
from types import ModuleType
from typing import Any, Callable

ENV = "OTEL_COT_NATIVE"  # off: use the pure-Python paths even where the extensions are built
logger = logging.getLogger("otel_cot.native")


def enabled() -> bool:
    """False when ``OTEL_COT_NATIVE=off`` asks for the pure-Python paths."""
    return os.environ.get(ENV, "").strip().lower() != "off"


def load(name: str, source: Path) -> ModuleType | None:
    """The compiled module ``name`` built from the C file ``source``; None when the pure-Python path is to
    be used (forced off, not built, or built from another version of ``source``)."""
    if not enabled():
        return None
    try:
        module = importlib.import_module(name)
    except ImportError:
        return None
    if source.is_file():  # a checkout: the module must be the build of this very source
        current = hashlib.sha256(source.read_bytes()).hexdigest()
        if module.source_sha256 != current:
            logger.warning("%s was compiled from another version of %s; using the pure-Python path "
                           "(rebuild: pip install -e . -e ./collector)", name, source.name)
            return None
    return module


_CONSTRUCT = load("otel_cot._construct", Path(__file__).with_name("_construct.c"))


def field_setter(cls: type) -> Callable[..., Any]:
    """A callable taking one value per field of the dataclass ``cls`` (positionally, in declaration order)
    and giving the instance ``cls(*values)`` gives. Compiled, it skips the generated ``__init__`` (for a
    frozen dataclass, one ``object.__setattr__`` call per field) and sets the fields from C: straight into
    the slots when every field is a slot, else in the same order through the generic setter, so an
    instance dict is the same key-shared one; otherwise it is ``cls`` itself. Only for a dataclass whose
    every field is an ``__init__`` parameter and which has no ``__post_init__`` or own ``__new__``."""
    fields = dataclasses.fields(cls)
    if not all(f.init for f in fields) or hasattr(cls, "__post_init__") or cls.__new__ is not object.__new__:
        raise TypeError(f"{cls.__name__}: field_setter needs plain fields set by __init__")
    if _CONSTRUCT is None:
        return cls
    return _CONSTRUCT.FieldSetter(cls, tuple(f.name for f in fields))


def view_maker(setter: Callable[..., Any], names: tuple[str, ...], kinds: tuple[str, ...], max_chars: int,
               window_chars: int) -> Callable[[Any], tuple[list, list, bool] | None] | None:
    """The compiled ``(views, dedupe keys, plain)`` of a span record (``otel_cot.detectors.views.keyed_views``),
    for ``setter`` a compiled :func:`field_setter` of ``SpanView``; None without the compiled module (the
    caller then builds them in Python). The callable returns None for a record it does not read (one with
    message attributes, or a value it reads that is neither None nor a str)."""
    if _CONSTRUCT is None or not isinstance(setter, _CONSTRUCT.FieldSetter):
        return None
    return _CONSTRUCT.ViewMaker(setter, names, kinds, max_chars, window_chars)


ACCELERATORS = ("otel_cot._construct", "otel_cot_collector._span_wire")  # each built from <name>.c beside it


def report() -> dict[str, Any]:
    """What this process runs compiled: each C accelerator of an installed package, True when in use (as
    :func:`load` decides), and the modules of the opt-in compiled build (otel_cot/compiled_modules.py), True
    when they import compiled."""
    from otel_cot import compiled_modules

    accelerators = {}
    for name in ACCELERATORS:
        package, _, stem = name.rpartition(".")
        spec = importlib.util.find_spec(package)  # a top-level package: found, not imported
        if spec is not None and spec.submodule_search_locations:
            source = Path(next(iter(spec.submodule_search_locations))) / f"{stem}.c"
            accelerators[name] = load(name, source) is not None
    return {"native_enabled": enabled(), "accelerators": accelerators,
            "compiled_modules": {name: compiled_modules.is_compiled(name) for name in compiled_modules.hot_modules()}}


def main() -> None:
    """``python -m otel_cot.native [--json]``: which accelerators and compiled modules this install runs."""
    import json
    import sys

    state = report()
    if "--json" in sys.argv[1:]:
        print(json.dumps(state, indent=2))
        return
    print(f"C accelerators ({ENV}={os.environ.get(ENV, '')!r}):")
    for name, used in state["accelerators"].items():
        print(f"  {name:50s} {'in use' if used else 'not in use (pure Python)'}")
    modules = state["compiled_modules"]
    print(f"compiled build (OTEL_COT_COMPILE=1 wheels): {sum(modules.values())} of {len(modules)} per-span modules "
          "compiled")
    for name, compiled in modules.items():
        print(f"  {name:50s} {'compiled' if compiled else 'python'}")


if __name__ == "__main__":
    main()
