"""Evaluation only (not shipped): compile the collector's per-span Python ahead of time, source unchanged.

    python scripts/compile_hot_path.py build {plain,cython,mypyc} DEST [--ref main] [--exclude MOD ...]
    PYTHONPATH=DEST:DEST/collector python scripts/compile_hot_path.py check DEST

``build`` exports REF (``git archive``) into DEST and, unless the variant is ``plain``, compiles the hot
modules in place (``build_ext --inplace``: a ``.so`` beside each ``.py``, which the import system prefers).
``check`` imports every hot module and prints where it came from, failing when a module that should be
compiled was imported from its ``.py`` (a stale editable install or a wrong PYTHONPATH would do that).
The modules are those the collector runs per span with detectors on; see docs/performance.md,
"Compiling the pure-Python path".
"""

from __future__ import annotations

import argparse
import glob
import importlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
HOT = ["otel_cot/detectors/*.py", "otel_cot/textscan/*.py",
       "collector/otel_cot_collector/pipeline.py", "collector/otel_cot_collector/store.py",
       "collector/otel_cot_collector/otlp.py", "collector/otel_cot_collector/processors/grouping.py",
       "collector/otel_cot_collector/processors/detect.py"]
ROOTS = {"otel_cot_collector": "collector/otel_cot_collector"}  # package -> its directory in the export

# Modules each compiler cannot take unchanged, and why (found by building and running the test suite).
EXCLUDED: dict[str, dict[str, str]] = {
    "cython": {},
    "mypyc": {},
}


def module_name(path: str) -> str:
    parts = Path(path).with_suffix("").parts
    if parts[0] == "collector":
        parts = parts[1:]
    return ".".join(parts)


def hot_files(root: Path) -> list[str]:
    files = sorted({f for pattern in HOT for f in glob.glob(pattern, root_dir=root)})
    return [f for f in files if not f.endswith("__init__.py")]  # only imports: nothing to gain


def export(ref: str, dest: Path) -> None:
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", ref], cwd=REPO, check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)


def build_cython(files: list[str], jobs: int, lenient: bool) -> None:
    from Cython.Build import cythonize
    from setuptools import Extension

    extensions = [Extension(module_name(f), [f]) for f in files]
    build_inplace(cythonize(extensions, nthreads=jobs, compiler_directives={"language_level": 3}, quiet=True), jobs)


# The error codes main's hot modules fail mypy with (47 errors in 19 modules); --lenient silences them, so
# mypyc compiles those modules too, trusting annotations that mypy says are wrong.
LENIENT = ["arg-type", "assignment", "attr-defined", "list-item", "return-value", "has-type", "call-overload",
           "var-annotated", "union-attr", "misc", "index"]


def build_mypyc(files: list[str], jobs: int, lenient: bool) -> None:
    from mypyc.build import mypycify

    options = ["--ignore-missing-imports", "--follow-imports=silent", "--python-version=3.11"]
    options += [f"--disable-error-code={code}" for code in LENIENT] if lenient else []
    build_inplace(mypycify(options + files, opt_level="3"), jobs)


def build_inplace(extensions: list, jobs: int) -> None:
    """``setup.py build_ext --inplace`` without reading the export's pyproject.toml (not a build config)."""
    from setuptools import Distribution

    dist = Distribution({"name": "otel-cot-compiled-eval", "package_dir": ROOTS, "ext_modules": extensions})
    dist.script_args = ["build_ext", "--inplace", "-j", str(jobs)]
    dist.parse_command_line()
    dist.run_commands()


def build(args: argparse.Namespace) -> None:
    dest = Path(args.dest).resolve()
    t0, c0 = time.monotonic(), os.times()
    export(args.ref, dest)
    if args.variant == "plain":
        return
    os.chdir(dest)
    excluded = {**EXCLUDED[args.variant], **{m: "--exclude" for m in args.exclude}}
    files = [f for f in hot_files(dest) if module_name(f) not in excluded]
    {"cython": build_cython, "mypyc": build_mypyc}[args.variant](files, args.jobs, args.lenient)
    for leftover in ("build",):
        shutil.rmtree(dest / leftover, ignore_errors=True)
    c1 = os.times()
    cpu = (c1.user - c0.user) + (c1.system - c0.system) + (c1.children_user - c0.children_user) + \
        (c1.children_system - c0.children_system)
    summary = {"variant": args.variant, "ref": args.ref, "lenient": args.lenient, "compiled": [module_name(f) for f in files],
               "excluded": excluded, "wall_s": round(time.monotonic() - t0, 1), "cpu_s": round(cpu, 1)}
    (dest / "COMPILED.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary, indent=2))


def check(args: argparse.Namespace) -> None:
    dest = Path(args.dest).resolve()
    manifest = dest / "COMPILED.json"
    compiled = set(json.loads(manifest.read_text())["compiled"]) if manifest.exists() else set()
    wrong = []
    for name in sorted(module_name(f) for f in hot_files(dest)):
        where = Path(importlib.import_module(name).__file__ or "?")
        native = where.suffix in (".so", ".pyd")
        if not where.is_relative_to(dest) or native != (name in compiled):
            wrong.append(name)
        print(f"{name:45s} {where.name:45s} {'compiled' if native else 'python'}")
    if wrong:
        sys.exit(f"not imported as built from {dest}: {', '.join(wrong)}")


def main() -> None:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build")
    b.add_argument("variant", choices=["plain", "cython", "mypyc"])
    b.add_argument("dest")
    b.add_argument("--ref", default="main")
    b.add_argument("--exclude", nargs="*", default=[], help="module names to leave as Python")
    b.add_argument("--jobs", type=int, default=2)
    b.add_argument("--lenient", action="store_true", help="mypyc: compile despite the mypy errors in LENIENT")
    c = sub.add_parser("check")
    c.add_argument("dest")
    args = ap.parse_args()
    build(args) if args.command == "build" else check(args)


if __name__ == "__main__":
    main()
