"""The ``otel-cot`` command: the detectors on stored traces and labelled trajectories, the coding agents' sessions
and hooks, and a demo.

    otel-cot scan FILES... [--html FILE]         findings in stored traces (OTLP JSON, Jaeger API JSON)
    otel-cot scan FILES... --monitor CFG         ... and the model-based monitor's, as its triggers say
    otel-cot eval DATA.jsonl... [--by-source]   precision / recall / FPR of the detectors on labelled data
    otel-cot eval DATA.jsonl... --monitor CFG   ... of the model-based monitor too, alone and with the rules
    otel-cot demo                               a scripted agent session through the detectors and the collector
    otel-cot watch [--once] [--detect]          Claude Code / Codex / Gemini CLI session files as spans over OTLP
    otel-cot hooks install claude-code          the guard in the agent's hooks: a bad tool call stopped before it runs

Errors are one line on stderr, ``otel-cot <command>: <what is wrong>``, and exit status 2 for a usage or
input error (a missing, unreadable or malformed file, a file with no spans); 1 for ``scan
--fail-on-findings`` with findings, or an output file that cannot be written. Output cut short by a closed
pipe (``otel-cot scan --json FILE | head``) ends quietly, as a Unix tool does.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any, Callable, NoReturn, Sequence

from ._version import __version__
from .config import ConfigurationError
from .detectors.traces import InputError

Command = Callable[[argparse.Namespace], int]

DESCRIPTION = ("Find misaligned behaviour of AI agents (reward hacking, destructive actions, prompt injection, "
               "secret exposure, deception) in their OpenTelemetry traces.")
EPILOG = ("'otel-cot COMMAND --help' describes each command. Instrumenting an agent is otel_cot.init() in its "
          "code (README.md).")

EXIT_FINDINGS = 1
EXIT_OUTPUT = 1
EXIT_USAGE = 2
EXIT_BROKEN_PIPE = 128 + 13
"""What a shell reports for a tool that SIGPIPE ended."""


class _Parser(argparse.ArgumentParser):
    """Usage errors as one line (argparse prints the whole usage first)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: {message} (see '{self.prog} --help')\n")


def _engine(args: argparse.Namespace) -> Any:
    import yaml

    from .detectors.engine import Engine
    from .detectors.registry import load_config_file

    detectors = None
    if getattr(args, "config", None):
        try:
            detectors = load_config_file(args.config)
        except OSError as exc:
            raise InputError(f"{args.config}: cannot read it ({exc.strerror or exc})") from None
        except (ConfigurationError, ValueError, ImportError, yaml.YAMLError) as exc:
            raise InputError(f"{args.config}: {' '.join(str(exc).split())}") from None
    return Engine(detectors, timeout_s=args.timeout)


def _monitor(args: argparse.Namespace) -> Any:
    """The model-based monitor the --monitor file configures (None without the option)."""
    if not getattr(args, "monitor", None):
        return None
    from .monitor import Monitor, load_monitor_config

    try:
        config = load_monitor_config(args.monitor)
    except ConfigurationError as exc:
        raise InputError(" ".join(str(exc).split())) from None
    if config is None:
        raise InputError(f"{args.monitor}: no detectors.monitor section (or it says enabled: false)")
    return Monitor(config)


def _add_engine_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="YAML file selecting detectors (its 'detectors' section)")
    p.add_argument("--timeout", type=float, default=None,
                   help="per-detector timeout in seconds (default: none, detectors run inline)")
    p.add_argument("--monitor", metavar="CONFIG",
                   help="YAML file whose detectors.monitor section configures the model-based monitor (a judge "
                        "model; calls cost money: see docs/detectors.md)")


def cmd_eval(args: argparse.Namespace) -> int:
    from .eval import Progress, evaluate, format_table, read_jsonl

    trajectories = list(read_jsonl(args.data))  # every line checked before any work
    engine = _engine(args)
    monitor = _monitor(args)
    if monitor is not None and args.by_source:
        raise InputError("--by-source counts the rules' signals; it does not combine with --monitor")
    progress = Progress(len(trajectories)) if len(trajectories) >= 50 and not args.quiet else None
    if monitor is not None:
        from .eval_monitor import evaluate_with_monitor, format_report

        monitored = evaluate_with_monitor(trajectories, engine, monitor, progress=progress,
                                          keep_details=bool(args.details), min_severity=args.min_severity)
        print(format_report(monitored))
        summary = monitored.as_dict()
        details = monitored.details
    else:
        result = evaluate(trajectories, engine=engine, progress=progress, keep_details=bool(args.details),
                          min_severity=args.min_severity, group_by=args.group_by)
        print(format_table(result))
        summary = result.as_dict()
        details = result.details
        if args.by_source:
            from .eval_sources import by_source, format_by_source, patterns_of

            summary["by_source"] = by_source(result, patterns_of(engine.detectors), group_by=args.group_by)
            print(format_by_source(summary["by_source"]))
    if args.json:
        _write(args.json, json.dumps(summary, indent=2) + "\n")
    if args.details:
        _write(args.details, "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in details))
    return 0


def _write(path: str, text: str) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text)


def _print_finding(f: Any, names: dict[tuple[str, str], str], as_json: bool) -> None:
    name = names.get((f.trace_id, f.span_id), "")
    if as_json:
        print(json.dumps({"trace_id": f.trace_id, "span_id": f.span_id, "span_name": name,
                          "category": f.category, "severity": f.severity, "score": f.score,
                          "detector": f.detector_id, "detector_version": f.detector_version,
                          "explanation": f.explanation, "evidence": f.evidence,
                          "evidence_location": f.evidence_location,
                          "related_span_id": f.related_span_id, **dict(f.extra)}, ensure_ascii=False))
    else:
        related = f" (after span {f.related_span_id})" if f.related_span_id else ""
        print(f"trace={f.trace_id} span={f.span_id} [{name}] {f.severity.upper()} {f.category} "
              f"{f.detector_id}: {f.explanation}{related}\n    evidence: {f.evidence}")


def cmd_scan(args: argparse.Namespace) -> int:
    from .detectors.traces import read_trace_file
    from .detectors.views import views_from_record

    records = []
    for path in args.files:
        records.extend(read_trace_file(path))
    engine = _engine(args)
    monitor = _monitor(args)
    # Per trace, in the order the spans finished (a reasoning span before its model call, a model call
    # before the tool it asked for).
    records.sort(key=lambda r: (r.trace_id, r.end_time_ns, r.start_time_ns))
    names = {(r.trace_id, r.span_id): r.name for r in records}
    found: list[Any] = []
    by_trace: dict[str, tuple[list[Any], list[Any]]] = {}  # trace id -> (its records, the rules' findings)
    for record in records:
        judged_here = engine.process(record)
        if monitor is not None:
            spans, rule_findings = by_trace.setdefault(record.trace_id, ([], []))
            spans.append(record)
            rule_findings.extend(judged_here)
        for f in judged_here:
            found.append(f)
            _print_finding(f, names, args.json)
    summary = f"{len(records)} spans, {len(found)} findings"
    if monitor is not None:
        judged = 0
        for trace_id, (spans, rule_findings) in by_trace.items():
            outcome = monitor.judge_trace(trace_id, [v for r in spans for v in views_from_record(r)], rule_findings)
            if outcome is None:
                continue
            judged += 1
            for f in outcome.findings:
                found.append(f)
                _print_finding(f, names, args.json)
        stats = monitor.stats
        problems = {**{f"skipped {k}": v for k, v in stats.skipped.items()},
                    **{f"error {k}": v for k, v in stats.errors.items()}}
        summary = (f"{len(records)} spans, {len(found)} findings; monitor: {judged} of {len(by_trace)} traces judged, "
                   f"{sum(stats.findings.values())} findings, {stats.calls} calls, "
                   f"{stats.input_tokens + stats.output_tokens} tokens, {stats.judge_seconds:.1f} s"
                   + "".join(f", {k} {v}" for k, v in sorted(problems.items())))
    if args.html:
        from .report import build_traces, write_html

        path = write_html(args.html, build_traces(records, found), title="trace report",
                          source=", ".join(args.files))
        print(f"HTML report: {path}", file=sys.stderr)
    print(summary, file=sys.stderr)
    return EXIT_FINDINGS if (found and args.fail_on_findings) else 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="otel-cot", description=DESCRIPTION, epilog=EPILOG,
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser("scan", help="run the detectors over stored traces (OTLP JSON, Jaeger API JSON)",
                       description="Run the detectors over stored traces and print what they find. A FILE is OTLP "
                                   "JSON (one document, or one a line as the OpenTelemetry Collector's file exporter "
                                   "writes) or Jaeger API JSON (/api/v3/traces/ID, /api/traces/ID). A file that "
                                   "cannot be read or holds no span is an error (exit 2).")
    p.add_argument("files", nargs="+", metavar="FILE", help="OTLP JSON or Jaeger API JSON")
    p.add_argument("--json", action="store_true", help="one JSON object per finding")
    p.add_argument("--fail-on-findings", action="store_true", help="exit 1 when anything is found")
    p.add_argument("--html", metavar="FILE",
                   help="also write the traces with their findings as a self-contained HTML report")
    _add_engine_options(p)
    p.set_defaults(func=cmd_scan)

    p = sub.add_parser("eval", help="precision / recall / FPR of the detectors on labelled JSONL trajectories",
                       description="Precision, recall and false-positive rate of the detectors on labelled "
                                   "trajectories: JSONL, one {\"id\", \"steps\": [...], \"labels\": [...]} a line "
                                   "(docs/detectors.md). A line that is not one is an error naming the file and "
                                   "line (exit 2).")
    p.add_argument("data", nargs="+", metavar="DATA.jsonl", help="JSONL files of labelled trajectories")
    p.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    p.add_argument("--details", metavar="FILE", help="write per-trajectory findings as JSONL")
    p.add_argument("--min-severity", default="medium", choices=("low", "medium", "high", "critical"),
                   help="least severity of a finding that counts as a detection (default: medium; low findings "
                        "are signals a detector cannot tell from benign use)")
    p.add_argument("--group-by", default="source", metavar="FIELD",
                   help="what --by-source groups by: source (default) or a trajectory field such as meta.harness")
    p.add_argument("--by-source", action="store_true",
                   help="also per source, per mechanism, and leave-one-source-out recall for reward_hacking and "
                        "deception")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    _add_engine_options(p)
    p.set_defaults(func=cmd_eval)

    from .demo.command import add_parser as add_demo_parser

    add_demo_parser(sub)
    from .coding_agents.cli import add_parser as add_watch_parser

    add_watch_parser(sub)
    from .hooks.cli import add_parser as add_hooks_parser

    add_hooks_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    prog = f"otel-cot {args.command}"
    try:
        status = int(args.func(args) or 0)
        sys.stdout.flush()  # a closed pipe shows here, not at interpreter exit
        return status
    except BrokenPipeError:
        # The reader went away (`| head`): say nothing, and keep the exit-time flush from complaining.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except InputError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:  # an output file
        print(f"{prog}: cannot write {exc.filename or 'the output'} ({exc.strerror or exc})", file=sys.stderr)
        return EXIT_OUTPUT
    except KeyboardInterrupt:
        return 128 + 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
