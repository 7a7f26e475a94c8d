"""The optional C accelerator (see otel_cot/native.py): built where a C compiler is found, skipped with a
warning elsewhere (``optional=True``), the package then running its pure-Python path. With
``OTEL_COT_COMPILE=1`` a wheel build also compiles the per-span modules with Cython
(otel_cot/compiled_modules.py; never an editable build, which _build_backend.py marks). Everything else is in
pyproject.toml."""

import hashlib
import runpy
from pathlib import Path

from setuptools import Extension, setup

HERE = Path(__file__).resolve().parent


def accelerator(name: str, source: str) -> Extension:
    """``name`` from the C file ``source``, stamped with the file's digest (a build of another version of
    the file is not loaded)."""
    digest = hashlib.sha256((HERE / source).read_bytes()).hexdigest()
    return Extension(name, [source], define_macros=[("OTEL_COT_SOURCE_SHA256", f'"{digest}"')], optional=True)


EXTENSIONS = [accelerator("otel_cot._construct", "otel_cot/_construct.c")]

if __name__ == "__main__":  # as setuptools runs it (scripts/build_accelerators.py reads EXTENSIONS)
    compiled = runpy.run_path(str(HERE / "otel_cot" / "compiled_modules.py"))["setup_arguments"](
        "otel_cot", HERE / "otel_cot")
    setup(ext_modules=EXTENSIONS + compiled.get("ext_modules", []), cmdclass=compiled.get("cmdclass", {}))
