"""Build the optional C accelerators (otel_cot/native.py) of a checkout or a ``git archive`` export in place,
for running it with ``PYTHONPATH`` and no ``pip install`` (``pip install -e . -e ./collector`` builds them
too). Each package's setup.py lists its extensions (``EXTENSIONS``); they are optional, so where a module
cannot be compiled a warning says so and the pure-Python path is used.

    python scripts/build_accelerators.py [--build-lib DIR --build-temp DIR]

Only setuptools' ``build_ext`` runs (any setuptools version; pyproject.toml is not read).
"""

from __future__ import annotations

import argparse
import os
import runpy
from pathlib import Path

from setuptools import Distribution

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = (ROOT, ROOT / "collector")


def build(package: Path, build_lib: str | None, build_temp: str | None) -> None:
    here = os.getcwd()
    os.chdir(package)  # setup.py names its sources relative to its directory
    try:
        dist = Distribution({"ext_modules": runpy.run_path("setup.py", run_name="setup")["EXTENSIONS"]})
        command = dist.get_command_obj("build_ext")
        command.inplace = build_lib is None
        if build_lib is not None:
            command.build_lib, command.build_temp = build_lib, build_temp
        dist.run_command("build_ext")
    finally:
        os.chdir(here)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build-lib", help="put the modules here instead of beside their sources")
    ap.add_argument("--build-temp")
    args = ap.parse_args()
    for package in PACKAGES:
        build(package, args.build_lib, args.build_temp or args.build_lib)


if __name__ == "__main__":
    main()
