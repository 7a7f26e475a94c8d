"""How long ``otel_cot.init()`` takes, and what it adds to importing an SDK afterwards.

    python bench/init_time.py [--runs 7]       # every scenario, a fresh process per measurement
    python bench/init_time.py --quick          # smoke mode: 1 run each
    python bench/init_time.py --root ../old    # the otel_cot of another checkout (a before/after comparison)

Every measurement is a fresh interpreter (``python -c``), so nothing is cached in ``sys.modules``; the
runs of all scenarios are interleaved (round 1 of every scenario, then round 2, ...) so that a machine
that speeds up or slows down during the call moves them all alike. Each child reports wall time
(``perf_counter``) and CPU time (``process_time``) of the step measured, in milliseconds; the table
gives the median and the spread (min-max) over the runs.

Scenarios:

  import otel_cot            ``import otel_cot``
  init()                     ``otel_cot.init()`` after ``import otel_cot``, the default configuration (the
                             OTLP/HTTP exporter to localhost; nothing is sent), every supported SDK installed
  init(), exporter none      the same with ``OTEL_TRACES_EXPORTER=none``
  import SDK bare            ``import <sdk>`` after ``import otel_cot`` without ``init()``
  import SDK after init()    ``import <sdk>`` after ``init()``: the SDK's import plus our patching of it
  import SDK, then init()    ``init()`` with the SDK already imported (it is patched inside ``init()``)

``sys.modules`` after ``init()`` is checked in the ``init()`` child: the SDKs, pydantic, the detectors and
the guard's policy must not be there; the report says which are.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SDKS = ("openai", "anthropic")
HEAVY = ("openai", "anthropic", "google.genai", "mcp", "agents", "pydantic", "otel_cot.detectors",
         "otel_cot.guard.policy", "yaml")

CHILD = """
import json, sys, time
def clock():
    return time.perf_counter(), time.process_time()
def since(start):
    wall, cpu = clock()
    return {"wall_ms": (wall - start[0]) * 1e3, "cpu_ms": (cpu - start[1]) * 1e3}
STEPS
"""

STEPS = {
    "import otel_cot": """
t = clock(); import otel_cot; out = since(t)
""",
    "init()": """
import otel_cot
t = clock(); otel_cot.init(); out = since(t)
out["loaded"] = [m for m in HEAVY if m in sys.modules]
""",
    "init(), exporter none": """
import otel_cot
t = clock(); otel_cot.init(); out = since(t)
""",
}
for _sdk in SDKS:
    STEPS[f"import {_sdk} bare"] = f"""
import otel_cot
t = clock(); import {_sdk}; out = since(t)
"""
    STEPS[f"import {_sdk} after init()"] = f"""
import otel_cot
otel_cot.init()
t = clock(); import {_sdk}; out = since(t)
"""
    STEPS[f"import {_sdk}, then init()"] = f"""
import otel_cot, {_sdk}
t = clock(); otel_cot.init(); out = since(t)
"""

ENV = {"init(), exporter none": {"OTEL_TRACES_EXPORTER": "none"}}


def child_code(scenario: str) -> str:
    return (CHILD.replace("STEPS", STEPS[scenario].strip() + "\nprint(json.dumps(out))")
            .replace("HEAVY", repr(HEAVY)))


def run_once(scenario: str, root: Path = ROOT) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env.update({"OTEL_SERVICE_NAME": "init-bench", "OTEL_BSP_SCHEDULE_DELAY": "600000",
                "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9", **ENV.get(scenario, {})})
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH")]))
    proc = subprocess.run([sys.executable, "-c", child_code(scenario)], capture_output=True, text=True,
                          env=env, cwd=root, timeout=300)
    if proc.returncode != 0:
        raise SystemExit(f"{scenario}: child failed\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def summary(values: list[float]) -> str:
    return f"{statistics.median(values):8.1f} ({min(values):.1f}-{max(values):.1f})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=7, help="fresh processes per scenario")
    ap.add_argument("--quick", action="store_true", help="smoke mode: one run per scenario")
    ap.add_argument("--scenarios", help="comma-separated subset (default: all)")
    ap.add_argument("--root", type=Path, default=ROOT, help="the checkout whose otel_cot is measured (default: this one)")
    args = ap.parse_args()
    scenarios = args.scenarios.split(",") if args.scenarios else list(STEPS)
    unknown = [s for s in scenarios if s not in STEPS]
    if unknown:
        ap.error(f"unknown scenario(s) {unknown}; known: {list(STEPS)}")
    runs = 1 if args.quick else args.runs
    results: dict[str, list[dict]] = {s: [] for s in scenarios}
    run_once(scenarios[0], args.root)  # warm the file-system cache; not counted
    for _ in range(runs):
        for scenario in scenarios:
            results[scenario].append(run_once(scenario, args.root))

    print(f"{args.root.resolve()}: python {sys.version.split()[0]}, {os.cpu_count()} cores, load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}, {runs} run(s) per scenario")
    print("| scenario | wall ms, median (min-max) | CPU ms, median (min-max) |")
    print("|---|---|---|")
    for scenario, rows in results.items():
        print(f"| {scenario} | {summary([r['wall_ms'] for r in rows])} | {summary([r['cpu_ms'] for r in rows])} |")
    loaded = sorted({m for r in results.get("init()", []) for m in r.get("loaded", ())})
    print(f"modules imported by init(): {', '.join(loaded) if loaded else 'none of ' + ', '.join(HEAVY)}")
    print(json.dumps({s: {"wall_ms": statistics.median(r["wall_ms"] for r in rows),
                          "cpu_ms": statistics.median(r["cpu_ms"] for r in rows)} for s, rows in results.items()}))


if __name__ == "__main__":
    main()
