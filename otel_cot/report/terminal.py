"""A trace as a span tree for the terminal: names and durations, reasoning excerpts, tool calls, and the
findings highlighted (in colour on a terminal that wants it)."""

from __future__ import annotations

import json
import os
import shutil
import sys
from typing import IO, Sequence

from otel_cot.detectors.base import KIND_MODEL_CALL, KIND_REASONING, KIND_TOOL_CALL, KIND_TOOL_RESULT

from .model import KIND_TOOL, ReportSpan, ReportTrace, format_duration, sorted_findings

_CODES = {"bold": "1", "dim": "2", "red": "31", "yellow": "33", "cyan": "36", "magenta": "35", "blue": "34",
          "redbold": "1;31"}


def wants_color(stream: IO[str]) -> bool:
    """Colour on a terminal, unless ``NO_COLOR`` is set or ``TERM=dumb`` (https://no-color.org)."""
    return (hasattr(stream, "isatty") and stream.isatty() and not os.environ.get("NO_COLOR")
            and os.environ.get("TERM") != "dumb")


class _Style:
    def __init__(self, color: bool) -> None:
        self.color = color

    def __call__(self, text: str, style: str) -> str:
        return f"\033[{_CODES[style]}m{text}\033[0m" if self.color else text


def render_tree(traces: Sequence[ReportTrace], *, color: bool | None = None, width: int | None = None) -> str:
    """The traces as text trees, one block per trace, lines cut to ``width`` (default: the terminal's,
    at most 120)."""
    if color is None:
        color = wants_color(sys.stdout)
    if width is None:
        width = min(shutil.get_terminal_size((100, 24)).columns, 120)
    st = _Style(color)
    blocks = []
    for trace in traces:
        head = [f"trace {trace.trace_id}"]
        if trace.service:
            head.append(trace.service)
        head += [format_duration(trace.end_ns - trace.start_ns), f"{len(trace.spans)} spans"]
        if trace.flagged:
            head.append(st(f"{len(trace.flagged)} flagged", "redbold"))
        lines = [st(" · ".join(head[:1]), "bold") + " · " + " · ".join(head[1:])]
        for i, root in enumerate(trace.roots):
            _span_lines(root, "", i == len(trace.roots) - 1, True, st, width, lines)
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


def _span_lines(span: ReportSpan, prefix: str, last: bool, root: bool, st: _Style, width: int,
                out: list[str]) -> None:
    branch = "" if root else ("└─ " if last else "├─ ")
    below = prefix + ("" if root else ("   " if last else "│  "))
    name = span.record.name or "(unnamed)"
    duration = format_duration(span.duration_ns)
    flag = ("  ⚑ " + ", ".join(dict.fromkeys(f.category for f in span.findings))) if span.findings else ""
    pad = max(2, width - len(prefix + branch + name) - len(duration) - len(flag))
    line = prefix + branch + (st(name, "redbold") if span.findings else st(name, "bold")) + " " * pad + duration
    out.append(line + (st(flag, "redbold") if flag else ""))
    body = below + ("│  " if span.children else "   ")

    def add(label: str, text: str, style: str) -> None:
        text = _cut(text, max(30, width - len(body) - len(label)))
        out.append(body + label + (st(text, style) if style else text))

    for f in sorted_findings(span.findings):
        head = f"⚑ {f.severity.upper()} {f.category}"
        out.append(body + st(head, "redbold") + " " + _cut(f"({f.detector_id}): {f.explanation}",
                                                          max(30, width - len(body) - len(head) - 1)))
        if f.evidence:
            add("    evidence: ", f.evidence, "red")
    for label, text, style in _content(span):
        add(label, text, style)
    for i, child in enumerate(span.children):
        _span_lines(child, below, i == len(span.children) - 1, False, st, width, out)


def _content(span: ReportSpan) -> list[tuple[str, str, str]]:
    """(label, text, style) lines for a span's reasoning, answer and tool calls."""
    lines: list[tuple[str, str, str]] = []
    hits = span.flagged_locations()
    for view in span.views:
        if view.kind == KIND_REASONING:
            lines.append(("reasoning: ", view.text, "yellow"))
        elif view.kind == KIND_TOOL_CALL:
            args = _compact_json(view.arguments or view.text)
            if span.kind == KIND_TOOL:
                lines.append(("arguments: ", args, "cyan"))
            else:
                mark = "⚑ " if view.location in hits else ""
                lines.append((f"{mark}→ calls {view.tool or 'tool'} ", args, "red" if mark else "cyan"))
        elif view.kind == KIND_TOOL_RESULT and span.kind == KIND_TOOL:
            lines.append(("result: ", view.text, "dim"))
        elif view.kind == KIND_MODEL_CALL:
            lines.append(("answer: ", view.text, ""))
    return lines


def _compact_json(text: str) -> str:
    try:
        return json.dumps(json.loads(text), ensure_ascii=False)
    except (ValueError, TypeError):
        return text


def _cut(text: str, limit: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
