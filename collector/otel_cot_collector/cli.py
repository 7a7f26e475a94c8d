"""``otel-cot-collector --config FILE``."""

from __future__ import annotations

import argparse
import sys

from . import __version__
from .config import ConfigError, load


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="otel-cot-collector",
                                     description="OTLP in → otel-cot detectors → durable queue → OTLP out")
    parser.add_argument("--config", required=True, metavar="FILE", help="YAML config (${env:VAR} substituted)")
    parser.add_argument("--validate", action="store_true", help="check the config and exit")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    args = parser.parse_args(argv)
    try:
        cfg = load(args.config)
    except ConfigError as exc:
        print(f"otel-cot-collector: invalid config: {exc}", file=sys.stderr)
        return 2
    if args.validate:
        print("config ok")
        return 0
    from .service import run
    from .telemetry import setup_logging

    setup_logging(cfg.telemetry.log_level)
    run(cfg)
    return 0
