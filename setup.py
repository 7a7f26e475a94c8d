"""The optional C accelerator (see otel_cot/native.py): built where a C compiler is found, skipped with a
warning elsewhere (``optional=True``), the package then running its pure-Python path. Everything else is
in pyproject.toml."""

import hashlib
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
    setup(ext_modules=EXTENSIONS)
