"""The opt-in compiled build: which modules it compiles with Cython, how the build compiles them, and which
of them a process imports compiled.

The pure-Python package is the default and the reference. Building a wheel with ``OTEL_COT_COMPILE=1``
(``pip install .``, ``pip wheel .``; never ``pip install -e``) also compiles the modules the collector runs
per span, from their unchanged ``.py`` sources, with Cython 3: the same code, without the bytecode
interpreter's dispatch (docs/performance.md). The ``.py`` files stay in the wheel (tracebacks, ``inspect``);
the import system prefers the compiled module beside them.

This file is read three ways: by both packages' ``setup.py`` and ``_build_backend.py`` (by path, before
otel_cot is installed: standard library only at import), by ``scripts/compile_hot_path.py``, and at run time
by ``python -m otel_cot.native``.
"""

from __future__ import annotations

import glob
import importlib.util
import os
from pathlib import Path
from typing import Any

ENV = "OTEL_COT_COMPILE"  # 1: build wheels with the modules below compiled
CYTHON = "Cython>=3,<4"
# annotation_typing off: Cython otherwise takes annotations as C-level types and checks them (a local
# annotated ``list`` given a ``map`` in a slice assignment raised TypeError in processors/grouping.py, which
# Python accepts); the compiled build must run the same semantics as the source, so annotations stay hints.
DIRECTIVES: dict[str, Any] = {"language_level": 3, "annotation_typing": False}

# Per package, its modules the collector runs per span with detectors on (files relative to the package's
# directory; the ``__init__``s only import, nothing to gain).
HOT: dict[str, tuple[str, ...]] = {
    "otel_cot": ("detectors/*.py", "textscan/*.py"),
    "otel_cot_collector": ("pipeline.py", "store.py", "otlp.py", "processors/grouping.py", "processors/detect.py"),
}
# Modules that must stay Python even when a wider list would take them, and why.
PYTHON_ONLY: dict[str, str] = {
    "otel_cot_collector.receivers.http_receiver": "Starlette does not see a compiled async def endpoint as a "
    "coroutine function and calls it as an ASGI app (every request answered 500)",
}


UNIX_COMPILERS = ("unix", "cygwin", "mingw32")  # gcc/clang-style flags (distutils' compiler types)
NO_DEBUG_INFO = "-g0"


def requested() -> bool:
    """True when ``OTEL_COT_COMPILE`` asks for the compiled build."""
    return os.environ.get(ENV, "").strip().lower() in ("1", "true", "yes", "on")


def hot_files(package: str, package_dir: Path) -> dict[str, str]:
    """Module name -> its ``.py`` file (relative to ``package_dir``'s parent) for the hot modules of
    ``package``, whose sources are in ``package_dir``."""
    found: dict[str, str] = {}
    for pattern in HOT[package]:
        for path in sorted(glob.glob(pattern, root_dir=package_dir)):
            relative = Path(path)
            if relative.name == "__init__.py":
                continue
            name = ".".join((package, *relative.with_suffix("").parts))
            if name not in PYTHON_ONLY:
                found[name] = str(Path(package_dir.name) / relative)
    return found


def hot_modules() -> list[str]:
    """Every hot module's name, for the installed packages (a package not installed is left out)."""
    names: list[str] = []
    for package in HOT:
        spec = importlib.util.find_spec(package)
        if spec is not None and spec.submodule_search_locations:
            names += hot_files(package, Path(next(iter(spec.submodule_search_locations))))
    return names


def is_compiled(name: str) -> bool:
    """True when importing ``name`` would load a compiled module (found without importing it)."""
    spec = importlib.util.find_spec(name)
    return spec is not None and spec.origin is not None and Path(spec.origin).suffix in (".so", ".pyd")


class CompileError(RuntimeError):
    """The compiled build was asked for and cannot be made."""


def cythonize(extensions: list[Any], build_dir: str = "build/cython") -> None:
    """Point each extension of a ``.py`` source at the C Cython generates from it (under ``build_dir``, never
    beside the sources), run from the package directory's parent."""
    try:
        from Cython.Build import cythonize as generate
    except ImportError as exc:
        raise CompileError(f"{ENV}=1 needs {CYTHON} in the build environment (pip installs it through the "
                           "build backend; with --no-build-isolation install it first), or unset "
                           f"{ENV} for the pure-Python build") from exc
    from setuptools import Extension

    python = [ext for ext in extensions if ext.sources[0].endswith(".py")]
    try:
        generated = generate([Extension(ext.name, list(ext.sources)) for ext in python], build_dir=build_dir,
                             nthreads=os.cpu_count() or 1, quiet=True, compiler_directives=DIRECTIVES)
    except Exception as exc:  # Cython's CompileError and friends: the user asked for the compiled build
        raise CompileError(f"{ENV}=1: Cython could not compile the hot modules ({exc}); unset {ENV} for the "
                           "pure-Python build") from exc
    by_name = {ext.name: ext for ext in generated}
    for ext in python:
        ext.sources = by_name[ext.name].sources


def build_ext_class(base: type) -> type:
    """``base`` (setuptools' ``build_ext``) generating the C of the compiled modules first (so that Cython is
    needed only by the build itself), compiling in parallel, and failing with a clear message when a compiled
    module (not one of the optional C accelerators, which stay optional) does not build."""

    class BuildExt(base):  # type: ignore[misc,valid-type]
        def finalize_options(self) -> None:
            super().finalize_options()
            if not self.parallel:
                self.parallel = os.cpu_count() or 1

        def run(self) -> None:
            cythonize(self.extensions)
            super().run()

        def build_extension(self, ext: Any) -> None:
            if not getattr(ext, "optional", False) and self.compiler.compiler_type in UNIX_COMPILERS:
                # Python's CFLAGS carry -g: debug info would be ~5/6 of a compiled module's size
                ext.extra_compile_args = [*ext.extra_compile_args, NO_DEBUG_INFO]
            try:
                super().build_extension(ext)
            except Exception as exc:
                if getattr(ext, "optional", False):
                    raise
                raise CompileError(f"{ENV}=1: compiling {ext.name} failed ({exc}); unset {ENV} for the "
                                   "pure-Python build") from exc

    return BuildExt


def setup_arguments(package: str, package_dir: Path) -> dict[str, Any]:
    """What a package's ``setup()`` adds for the compiled build: nothing unless it was requested and the build
    is not an editable one (whose modules would be built beside their sources and shadow every later edit).
    Run from ``package_dir``'s parent."""
    if not requested():
        return {}
    if os.environ.get("OTEL_COT_EDITABLE_BUILD"):
        print(f"warning: {ENV}=1 is ignored by an editable install (pip install -e), which stays pure Python; "
              "build a wheel (pip install . / pip wheel .) for the compiled build")
        return {}
    from setuptools import Extension
    from setuptools.command.build_ext import build_ext

    modules = [Extension(name, [path]) for name, path in hot_files(package, package_dir).items()]
    return {"ext_modules": modules, "cmdclass": {"build_ext": build_ext_class(build_ext)}}


def build_requires() -> list[str]:
    """The wheel build's extra requirements: Cython, only when the compiled build is requested."""
    return [CYTHON] if requested() else []


def backend_hooks() -> dict[str, Any]:
    """The PEP 517 hooks a package's ``_build_backend.py`` changes in setuptools' backend: editable builds are
    marked (``OTEL_COT_EDITABLE_BUILD``: setup.py leaves them pure, and the collector's names its otel-cot
    dependency plainly), and a wheel build asks for Cython when the compiled build is requested."""
    from setuptools import build_meta

    def editable(hook: Any) -> Any:
        def run(*args: Any, **kwargs: Any) -> Any:
            os.environ["OTEL_COT_EDITABLE_BUILD"] = "1"
            try:
                return hook(*args, **kwargs)
            finally:
                os.environ.pop("OTEL_COT_EDITABLE_BUILD", None)
        return run

    def get_requires_for_build_wheel(config_settings: Any = None) -> list[str]:
        return build_meta.get_requires_for_build_wheel(config_settings) + build_requires()

    return {"prepare_metadata_for_build_editable": editable(build_meta.prepare_metadata_for_build_editable),
            "build_editable": editable(build_meta.build_editable),
            "get_requires_for_build_editable": editable(build_meta.get_requires_for_build_editable),
            "get_requires_for_build_wheel": get_requires_for_build_wheel}
