"""Compare ways of compiling the collector's per-span Python ahead of time, source unchanged (the shipped one,
Cython over the modules of otel_cot/compiled_modules.py, is built with ``OTEL_COT_COMPILE=1 pip wheel``; this
script builds it and the variants the evaluation in docs/performance.md compared, in place in an export).

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
import runpy
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
_SHIPPED = runpy.run_path(str(REPO / "otel_cot" / "compiled_modules.py"))  # the list the compiled build uses
_DIRS = {"otel_cot": "otel_cot", "otel_cot_collector": "collector/otel_cot_collector"}
HOT = [f"{_DIRS[package]}/{pattern}" for package, patterns in _SHIPPED["HOT"].items() for pattern in patterns]
# --wide: also the rest of what a request passes through (receivers, exporters, the other processors of the
# `on` pipeline, telemetry) and the otel_cot modules the detectors import.
WIDE = ["collector/otel_cot_collector/receivers/*.py", "collector/otel_cot_collector/exporters/*.py",
        "collector/otel_cot_collector/processors/sampling.py",
        "collector/otel_cot_collector/processors/findings_metrics.py",
        "collector/otel_cot_collector/telemetry.py", "collector/otel_cot_collector/http_server.py",
        "collector/otel_cot_collector/ingest.py", "otel_cot/semconv.py", "otel_cot/secrets.py"]
ROOTS = {"otel_cot_collector": _DIRS["otel_cot_collector"]}  # package -> its directory in the export

# Modules each compiler cannot take unchanged, and why (found by building, importing and running the
# benchmarks; the test suite's failures against the rest are in docs/performance.md).
_MYPY_ERRORS = "mypy reports errors in it (mypyc compiles only modules that type-check)"
_MYPYC_RUNTIME = {
    "otel_cot.detectors.base": "@runtime_checkable Protocol Detector: TypeError at import (a native class)",
    "otel_cot.detectors.views": "SpanRecord.of calls object.__new__(cls) on a dataclass: not safe on a native class",
}
EXCLUDED: dict[str, dict[str, str]] = {
    "cython": _SHIPPED["PYTHON_ONLY"],
    "mypyc": {
        **{m: _MYPY_ERRORS for m in (
            "otel_cot_collector.otlp", "otel_cot_collector.pipeline", "otel_cot_collector.store",
            "otel_cot.detectors.arguments", "otel_cot.detectors.deception", "otel_cot.detectors.destructive",
            "otel_cot.detectors.expected_values", "otel_cot.detectors.gaming_code", "otel_cot.detectors.injection",
            "otel_cot.detectors.judging", "otel_cot.detectors.registry", "otel_cot.detectors.reward_hacking",
            "otel_cot.detectors.rules", "otel_cot.detectors.secret_exposure", "otel_cot.detectors.test_talk",
            "otel_cot.detectors.traces", "otel_cot.textscan.backends", "otel_cot.textscan.prefilter",
            "otel_cot.textscan.superset")},
        **_MYPYC_RUNTIME,
    },
    "mypyc-lenient": {
        **_MYPYC_RUNTIME,
        "otel_cot_collector.pipeline": "mypyc emits the attribute _thread as the C field __thread, a GCC keyword: "
        "the C does not compile",
        "otel_cot.detectors.judging": "class Placed(Generic[S]) dataclass: AttributeError at import ('__dict__' of "
        "'type' objects is not writable)",
        "otel_cot.textscan.backends": "HyperscanBackend sets attributes its class does not declare (AttributeError "
        "_hs): the hyperscan backend fails to build and the scan falls back to re2",
        "otel_cot.textscan.prefilter": "the scan's build raised TypeError: frozenset object expected; got set "
        "(excluded with backends and superset)",
        "otel_cot.textscan.superset": "the scan's build raised TypeError: frozenset object expected; got set "
        "(excluded with backends and prefilter)",
    },
}


def module_name(path: str) -> str:
    parts = Path(path).with_suffix("").parts
    if parts[0] == "collector":
        parts = parts[1:]
    return ".".join(parts)


def hot_files(root: Path, wide: bool = False) -> list[str]:
    files = sorted({f for pattern in HOT + (WIDE if wide else []) for f in glob.glob(pattern, root_dir=root)})
    return [f for f in files if not f.endswith("__init__.py")]  # only imports: nothing to gain


def export(ref: str, dest: Path) -> None:
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", ref], cwd=REPO, check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)


def build_cython(files: list[str], jobs: int, lenient: bool, directives: dict[str, object]) -> None:
    from Cython.Build import cythonize
    from setuptools import Extension

    extensions = [Extension(module_name(f), [f]) for f in files]
    directives = {**_SHIPPED["DIRECTIVES"], **directives}
    build_inplace(cythonize(extensions, nthreads=jobs, compiler_directives=directives, quiet=True), jobs)


# The error codes main's hot modules fail mypy with (47 errors in 19 modules); --lenient silences them, so
# mypyc compiles those modules too, trusting annotations that mypy says are wrong.
LENIENT = ["arg-type", "assignment", "attr-defined", "list-item", "return-value", "has-type", "call-overload",
           "var-annotated", "union-attr", "misc", "index"]


def build_mypyc(files: list[str], jobs: int, lenient: bool, directives: dict[str, object]) -> None:
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
    excluded = {**EXCLUDED[args.variant + ("-lenient" if args.lenient else "")],
                **{m: "--exclude" for m in args.exclude}}
    files = [f for f in hot_files(dest, args.wide) if module_name(f) not in excluded]
    directives = {k: {"True": True, "False": False}.get(v, v) for k, v in (d.split("=", 1) for d in args.directive)}
    {"cython": build_cython, "mypyc": build_mypyc}[args.variant](files, args.jobs, args.lenient, directives)
    shutil.rmtree(dest / "build", ignore_errors=True)  # build_ext's objects; the .so files are in place
    c1 = os.times()
    cpu = (c1.user - c0.user) + (c1.system - c0.system) + (c1.children_user - c0.children_user) + \
        (c1.children_system - c0.children_system)
    summary = {"variant": args.variant, "ref": args.ref, "lenient": args.lenient, "wide": args.wide,
               "directives": args.directive, "compiled": [module_name(f) for f in files],
               "excluded": excluded, "wall_s": round(time.monotonic() - t0, 1), "cpu_s": round(cpu, 1)}
    (dest / "COMPILED.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary, indent=2))


def check(args: argparse.Namespace) -> None:
    dest = Path(args.dest).resolve()
    manifest = dest / "COMPILED.json"
    built = json.loads(manifest.read_text()) if manifest.exists() else {}
    compiled = set(built.get("compiled", ()))
    names = sorted(module_name(f) for f in hot_files(dest, built.get("wide", False)))
    wrong = sorted(compiled - set(names))  # built, but no longer among the export's modules
    for name in names:
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
    b.add_argument("--directive", nargs="*", default=[], help="cython: compiler directives, NAME=VALUE")
    b.add_argument("--wide", action="store_true", help="also the modules in WIDE")
    b.add_argument("--lenient", action="store_true", help="mypyc: compile despite the mypy errors in LENIENT")
    c = sub.add_parser("check")
    c.add_argument("dest")
    args = ap.parse_args()
    build(args) if args.command == "build" else check(args)


if __name__ == "__main__":
    main()
