"""The collector's dependency on otel-cot. otel-cot is not on the package index yet, so a collector built from
a checkout of the repository (``pip install ./collector``) depends on the checkout's own otel-cot. An editable
build (``pip install -e . -e ./collector``, the developers' install) names plain ``otel-cot``: the editable
checkout in the same command provides it, and pip refuses the same project as editable and as a URL. A build
outside a checkout (from an sdist) names plain ``otel-cot``, as a published package does, and so does any build
with ``OTEL_COT_PLAIN_DEPENDENCY=1`` (wheels to install elsewhere beside an otel-cot wheel).

It also builds the optional C accelerator ``otel_cot_collector._span_wire`` (see otel_cot/native.py) where a C
compiler is found; elsewhere it is skipped with a warning and the collector runs its pure-Python path. With
``OTEL_COT_COMPILE=1`` a wheel built from a checkout also compiles the per-span modules with Cython (the
checkout's otel_cot/compiled_modules.py; never an editable build)."""

import hashlib
import os
import runpy
from pathlib import Path

from setuptools import Extension, setup

checkout = Path(__file__).resolve().parent.parent
local = ((checkout / "pyproject.toml").is_file() and (checkout / "otel_cot" / "__init__.py").is_file()
         and not os.environ.get("OTEL_COT_EDITABLE_BUILD") and not os.environ.get("OTEL_COT_PLAIN_DEPENDENCY"))
REQUIRES = [
    "grpcio>=1.60,<2",
    "grpcio-status>=1.60,<2",
    "googleapis-common-protos>=1.60",
    "opentelemetry-proto>=1.30",
    "protobuf>=5,<8",
    "starlette>=0.40",
    "uvicorn>=0.30",
    "requests>=2.28",
    "PyYAML>=6",
]


def accelerator(name: str, source: str) -> Extension:
    """``name`` from the C file ``source``, stamped with the file's digest (a build of another version of
    the file is not loaded)."""
    digest = hashlib.sha256((Path(__file__).resolve().parent / source).read_bytes()).hexdigest()
    return Extension(name, [source], define_macros=[("OTEL_COT_SOURCE_SHA256", f'"{digest}"')], optional=True)


EXTENSIONS = [accelerator("otel_cot_collector._span_wire", "otel_cot_collector/_span_wire.c")]


def compiled_build() -> dict:
    """The compiled build's ``ext_modules`` and ``cmdclass`` (empty unless requested)."""
    source = checkout / "otel_cot" / "compiled_modules.py"
    if source.is_file():
        package = Path(__file__).resolve().parent / "otel_cot_collector"
        return runpy.run_path(str(source))["setup_arguments"]("otel_cot_collector", package)
    if os.environ.get("OTEL_COT_COMPILE", "").strip().lower() in ("1", "true", "yes", "on"):
        raise SystemExit("OTEL_COT_COMPILE=1: the collector's compiled build needs the repository checkout "
                         "(otel_cot/compiled_modules.py lists the modules); build it from there")
    return {}


if __name__ == "__main__":  # as setuptools runs it (scripts/build_accelerators.py reads EXTENSIONS)
    compiled = compiled_build()
    setup(ext_modules=EXTENSIONS + compiled.get("ext_modules", []), cmdclass=compiled.get("cmdclass", {}),
          install_requires=[f"otel-cot @ {checkout.as_uri()}" if local else "otel-cot", *REQUIRES])
