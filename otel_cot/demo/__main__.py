"""``python -m otel_cot.demo [options]``: the same as ``otel-cot demo [options]``."""

import argparse
import sys

from .command import add_parser

parser = argparse.ArgumentParser(prog="otel-cot")
add_parser(parser.add_subparsers(dest="command", required=True))
ns = parser.parse_args(["demo", *sys.argv[1:]])
sys.exit(ns.func(ns))
