"""``otel-cot``: the command line.

    otel-cot eval DATA.jsonl... [--json FILE] [--by-source]
                                                precision / recall / FPR of the detectors on labelled data
    otel-cot scan FILES...                      findings in stored traces (OTLP JSON, Jaeger JSON)
    otel-cot demo [--jaeger-url URL]            a scripted agent session into Jaeger; prints the flagged trace's URL
    otel-cot watch [--once] [--detect]          Claude Code / Codex / Gemini CLI session files as spans over OTLP
    otel-cot hooks install claude-code          the guard in the agent's hooks: a bad tool call stopped before it runs
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Callable, Sequence

Command = Callable[[argparse.Namespace], int]


def _engine(args: argparse.Namespace):
    from .detectors.engine import Engine
    from .detectors.registry import load_config_file

    detectors = load_config_file(args.config) if getattr(args, "config", None) else None
    return Engine(detectors, timeout_s=args.timeout)


def _add_engine_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="YAML file selecting detectors (its 'detectors' section)")
    p.add_argument("--timeout", type=float, default=None,
                   help="per-detector timeout in seconds (default: none, detectors run inline)")


def cmd_eval(args: argparse.Namespace) -> int:
    from .eval import Progress, evaluate, format_table, read_jsonl

    total = 0
    for path in args.data:
        with open(path, encoding="utf-8") as fh:
            total += sum(1 for line in fh if line.strip())
    progress = Progress(total) if total >= 50 and not args.quiet else None
    engine = _engine(args)
    result = evaluate(read_jsonl(args.data), engine=engine, progress=progress,
                      keep_details=bool(args.details), min_severity=args.min_severity, group_by=args.group_by)
    print(format_table(result))
    summary = result.as_dict()
    if args.by_source:
        from .eval_sources import by_source, format_by_source, patterns_of

        summary["by_source"] = by_source(result, patterns_of(engine.detectors), group_by=args.group_by)
        print(format_by_source(summary["by_source"]))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(summary, fh, indent=2)
            fh.write("\n")
    if args.details:
        with open(args.details, "w", encoding="utf-8") as fh:
            for row in result.details:
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    return 0


def cmd_scan(args: argparse.Namespace) -> int:
    from .detectors.traces import read_trace_file

    engine = _engine(args)
    records = []
    for path in args.files:
        records.extend(read_trace_file(path))
    # Per trace, in the order the spans finished (a reasoning span before its model call, a model call
    # before the tool it asked for).
    records.sort(key=lambda r: (r.trace_id, r.end_time_ns, r.start_time_ns))
    names = {(r.trace_id, r.span_id): r.name for r in records}
    found = []
    for record in records:
        for f in engine.process(record):
            found.append(f)
            if args.json:
                print(json.dumps({"trace_id": f.trace_id, "span_id": f.span_id,
                                  "span_name": names.get((f.trace_id, f.span_id), ""),
                                  "category": f.category, "severity": f.severity, "score": f.score,
                                  "detector": f.detector_id, "detector_version": f.detector_version,
                                  "explanation": f.explanation, "evidence": f.evidence,
                                  "evidence_location": f.evidence_location,
                                  "related_span_id": f.related_span_id}, ensure_ascii=False))
            else:
                related = f" (after span {f.related_span_id})" if f.related_span_id else ""
                print(f"trace={f.trace_id} span={f.span_id} [{names.get((f.trace_id, f.span_id), '')}] "
                      f"{f.severity.upper()} {f.category} {f.detector_id}: {f.explanation}{related}\n"
                      f"    evidence: {f.evidence}")
    if args.html:
        from .report import build_traces, write_html

        path = write_html(args.html, build_traces(records, found), title="trace report",
                          source=", ".join(args.files))
        print(f"HTML report: {path}", file=sys.stderr)
    print(f"{len(records)} spans, {len(found)} findings", file=sys.stderr)
    return 1 if (found and args.fail_on_findings) else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="otel-cot", description=__doc__.split("\n")[0] if __doc__ else None)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("eval", help="precision / recall / FPR of the detectors on labelled JSONL trajectories")
    p.add_argument("data", nargs="+", help="JSONL files of labelled trajectories")
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

    p = sub.add_parser("scan", help="run the detectors over stored traces (OTLP JSON, Jaeger JSON)")
    p.add_argument("files", nargs="+", help="OTLP JSON (file exporter) or Jaeger JSON files")
    p.add_argument("--json", action="store_true", help="one JSON object per finding")
    p.add_argument("--fail-on-findings", action="store_true", help="exit 1 when anything is found")
    p.add_argument("--html", metavar="FILE",
                   help="also write the traces with their findings as a self-contained HTML report")
    _add_engine_options(p)
    p.set_defaults(func=cmd_scan)

    from .demo.command import add_parser as add_demo_parser

    add_demo_parser(sub)
    from .coding_agents.cli import add_parser as add_watch_parser

    add_watch_parser(sub)
    from .hooks.cli import add_parser as add_hooks_parser

    add_hooks_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
