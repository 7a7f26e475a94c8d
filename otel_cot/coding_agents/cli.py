"""``otel-cot watch``'s command line (registered by :mod:`otel_cot.cli`)."""

from __future__ import annotations

import argparse
import logging
import sys

from .model import AGENTS, CLAUDE_CODE, CODEX, GEMINI_CLI

_DIR_FLAGS = {CLAUDE_CODE: "--claude-code-dir", CODEX: "--codex-dir", GEMINI_CLI: "--gemini-cli-dir"}


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("watch", help="follow Claude Code / Codex / Gemini CLI session files and export their "
                                     "reasoning and tool calls as spans over OTLP")
    p.add_argument("--once", action="store_true",
                   help="read what is there, end every session's trace, export, exit (backfill)")
    p.add_argument("--detect", action="store_true", help="run the detectors in-process before export")
    p.add_argument("--agent", action="append", choices=AGENTS, help="only this agent (repeatable; default: all)")
    for agent, flag in _DIR_FLAGS.items():
        p.add_argument(flag, metavar="DIR", help=f"{agent}'s session directory (default: see docs/coding-agents.md)")
    p.add_argument("--state", metavar="FILE", help="where read positions are kept "
                                                   "(default: $XDG_STATE_HOME/otel-cot/watch-state.json)")
    p.add_argument("--idle", type=float, default=900.0, metavar="SECONDS",
                   help="a session file unchanged this long is done: its root span is exported (default 900)")
    p.add_argument("--poll", type=float, default=1.0, metavar="SECONDS", help="how often files are checked")
    p.add_argument("--since", type=float, metavar="HOURS",
                   help="ignore files not modified in the last HOURS until they change (default: read all)")
    p.add_argument("--endpoint", help="OTLP endpoint (default: OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT)")
    p.add_argument("--protocol", choices=("http/protobuf", "grpc"), help="OTLP protocol (default: OTEL_* or http)")
    p.add_argument("-q", "--quiet", action="store_true", help="no status line")
    p.set_defaults(func=cmd_watch)


def cmd_watch(args: argparse.Namespace) -> int:
    from otel_cot._setup import build_exporter
    from otel_cot.config import ConfigurationError, Settings

    from .sources import default_dirs
    from .state import ExportLease, default_state_path
    from .watch import Watcher, install_signal_handlers

    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    try:
        exporter = build_exporter(args.endpoint, args.protocol)
        settings = Settings.from_env()
    except ConfigurationError as exc:
        print(f"otel-cot watch: {exc}", file=sys.stderr)
        return 2
    if exporter is None:
        print("otel-cot watch: OTEL_TRACES_EXPORTER=none: nowhere to export to", file=sys.stderr)
        return 2
    if args.detect:
        from otel_cot.detectors.exporter import DetectingSpanExporter

        exporter = DetectingSpanExporter(exporter)
    dirs = default_dirs()
    for agent in AGENTS:
        override = getattr(args, _DIR_FLAGS[agent].lstrip("-").replace("-", "_"))
        if override:
            dirs[agent] = override
    if args.agent:
        dirs = {agent: path for agent, path in dirs.items() if agent in args.agent}
    state_path = args.state or default_state_path()
    lease = ExportLease(state_path)  # held until exit: the hooks' checker leaves exporting to us meanwhile
    if not lease.acquire(wait=False):
        print(f"otel-cot watch: another process is exporting from {state_path} (another otel-cot watch, or "
              "the hooks' checker for a moment); waiting for it", file=sys.stderr)
        lease.acquire(wait=True)
    watcher = Watcher(dirs, exporter, state_path=state_path, settings=settings,
                      idle_s=args.idle, poll_s=args.poll, since_s=args.since * 3600 if args.since else None,
                      status=None if args.quiet else sys.stderr, follow_hook_sessions=True)
    if not args.once:
        install_signal_handlers(watcher)
        if not args.quiet:
            for agent, path in dirs.items():
                print(f"otel-cot watch: {agent}: {path}", file=sys.stderr)
    try:
        return watcher.run(once=args.once)
    finally:
        exporter.shutdown()
        lease.release()
