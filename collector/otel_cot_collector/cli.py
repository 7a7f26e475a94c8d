"""``otel-cot-collector --config FILE``."""

from __future__ import annotations

import argparse
import gc
import sys

from . import __version__
from .config import ConfigError, load
from .preflight import problems


# Young-generation collections every 20,000 net allocations instead of 700, and the middle generation
# every 1,000 young collections instead of 10: with detectors on, the engine holds up to
# ``detect.max_traces`` traces of views and memos, which survive their young collection and were traversed
# again by every middle one. At the default thresholds the cyclic collector took ~10% of the process's
# CPU, at (20,000, 20) ~6%, nearly all of it traversing live objects: the collector's per-span path makes
# almost no cyclic garbage (docs/performance.md, "Collector throughput").
GC_THRESHOLD = (20_000, 1_000, 20)


def tune_gc() -> None:
    """The collector process's garbage-collector settings: what is loaded by now (modules, config,
    compiled patterns) moves to the permanent generation, never scanned again, and the young generation is
    collected less often. Only the collector's own process calls this (not code importing the package)."""
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLD)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="otel-cot-collector",
                                     description="OTLP in → otel-cot detectors → durable queue → OTLP out")
    parser.add_argument("--config", required=True, metavar="FILE", help="YAML config (${env:VAR} substituted)")
    parser.add_argument("--validate", action="store_true",
                        help="check the config and what it needs here (free addresses, the queue directory, "
                             "the files it loads), then exit; exit code 2 on a problem")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    args = parser.parse_args(argv)
    try:
        cfg = load(args.config)
    except ConfigError as exc:
        print(f"otel-cot-collector: invalid config: {exc}", file=sys.stderr)
        return 2
    # What would stop the start (addresses, the queue directory, files), before anything starts.
    found = problems(cfg)
    for problem in found:
        print(f"otel-cot-collector: cannot start: {args.config}: {problem}", file=sys.stderr)
    if found:
        return 2
    if args.validate:
        print("config ok")
        return 0
    from .service import StartupError, run
    from .telemetry import setup_logging

    setup_logging(cfg.telemetry.log_level)
    tune_gc()
    try:
        run(cfg)
    except StartupError as exc:
        print(f"otel-cot-collector: cannot start: {exc}", file=sys.stderr)
        return 1
    return 0
