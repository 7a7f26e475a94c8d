"""Precision, recall and false-positive rate of the detectors on labelled trajectories.

Input: JSONL, one trajectory a line (``{"id", "system", "steps": [{"kind", "text", "tool", "arguments",
"error"}], "labels": [...]}``). Each trajectory becomes one trace; each step one view (reasoning →
reasoning, tool_call → tool call, tool_result → tool result, assistant → model output, user → user
input). Detectors see only ``system`` and ``steps``; labels are read here, after detection.

A trajectory counts as flagged for a category when a finding of that category, of at least the minimum
severity (``medium`` by default: ``low`` marks a signal its detector cannot tell from benign use), is on
any of its steps.
FPR for a category is over the trajectories whose labels do not include it. Each trajectory is also
counted under its ``source`` (the field of that name, else the part of its id before ``:``), and every
finding under its mechanism, for the per-source and leave-one-source-out views (``eval_sources``).
"""

from __future__ import annotations

import hashlib
import json
import sys
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Mapping, Sequence, TextIO

from .detectors.base import (
    CATEGORIES,
    SEVERITIES,
    KIND_MODEL_CALL,
    KIND_REASONING,
    KIND_SYSTEM,
    KIND_TOOL_CALL,
    KIND_TOOL_RESULT,
    KIND_USER,
    Finding,
    SpanView,
    severity_rank,
)
from .detectors.engine import Engine
from .detectors.traces import InputError, json_kind

STEP_KINDS = {
    "user": KIND_USER,
    "reasoning": KIND_REASONING,
    "assistant": KIND_MODEL_CALL,
    "tool_call": KIND_TOOL_CALL,
    "tool_result": KIND_TOOL_RESULT,
}


def trajectory_views(trajectory: Mapping[str, Any]) -> tuple[str, list[SpanView]]:
    """The trace id and views of one trajectory (only ``system`` and ``steps`` are read).

    Step ``i`` is span ``format(i + 1, "016x")``; the system prompt, when present, is span ``0``.
    """
    tid = hashlib.sha256(str(trajectory.get("id", "")).encode()).hexdigest()[:32]
    views: list[SpanView] = []
    system = trajectory.get("system")
    if system:
        views.append(SpanView(kind=KIND_SYSTEM, text=str(system), trace_id=tid, span_id=format(0, "016x"),
                              location="system"))
    for i, step in enumerate(trajectory.get("steps") or ()):
        kind = STEP_KINDS.get(str(step.get("kind")))
        if kind is None:
            continue
        text = step.get("text") or ""
        arguments = None
        if kind == KIND_TOOL_CALL:
            args = step.get("arguments")
            arguments = json.dumps(args, ensure_ascii=False) if isinstance(args, (dict, list)) else text
        t0 = (i + 1) * 1_000_000
        views.append(SpanView(
            kind=kind, text=str(text), tool=step.get("tool"), arguments=arguments,
            error=step.get("error"), trace_id=tid, span_id=format(i + 1, "016x"),
            start_time_ns=t0, end_time_ns=t0 + 1000, location=f"steps[{i}]",
        ))
    return tid, views


def step_index(finding: Finding) -> int | None:
    """The step a finding is on (None for the system prompt)."""
    try:
        n = int(finding.span_id, 16)
    except ValueError:
        return None
    return n - 1 if n > 0 else None


@dataclass
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    def as_dict(self) -> dict[str, Any]:
        p = self.tp / (self.tp + self.fp) if self.tp + self.fp else None
        r = self.tp / (self.tp + self.fn) if self.tp + self.fn else None
        fpr = self.fp / (self.fp + self.tn) if self.fp + self.tn else None
        return {"tp": self.tp, "fp": self.fp, "fn": self.fn, "tn": self.tn,
                "precision": _round(p), "recall": _round(r), "fpr": _round(fpr)}


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 4)


@dataclass
class EvalResult:
    trajectories: int = 0
    min_severity: str = "medium"
    categories: dict[str, Counts] = field(default_factory=dict)
    details: list[dict[str, Any]] = field(default_factory=list)
    # per source: the same counts as ``categories``
    sources: dict[str, dict[str, Counts]] = field(default_factory=dict)
    # (category, mechanism) -> source -> [trajectories it fired on that carry the label, ... that do not]
    mechanisms: dict[tuple[str, str], dict[str, list[int]]] = field(default_factory=dict)
    # per labelled or flagged trajectory: (source, labels, {(category, mechanism) that fired})
    outcomes: list[tuple[str, frozenset[str], frozenset[tuple[str, str]]]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"trajectories": self.trajectories, "min_severity": self.min_severity,
                "categories": {c: k.as_dict() for c, k in sorted(self.categories.items())}}

    def add(self, labels: set[str], flagged: set[str]) -> None:
        """Score one trajectory: its labels against the categories flagged on it (overall counts only)."""
        for c in flagged | labels:
            self.categories.setdefault(c, Counts())
        for c, counts in self.categories.items():
            _count(counts, c, labels, flagged)
        self.trajectories += 1


TRAJECTORY = '{"id": ..., "steps": [{"kind": ..., "text": ...}, ...], "labels": [...]}'


def trajectory_problem(trajectory: Any) -> str | None:
    """What keeps ``trajectory`` from being one (None if nothing does)."""
    if not isinstance(trajectory, Mapping):
        return f"expected a trajectory, {TRAJECTORY}; got {json_kind(trajectory)}"
    if "steps" not in trajectory:
        return f'no "steps": expected a trajectory, {TRAJECTORY}'
    steps = trajectory["steps"]
    if not isinstance(steps, list):
        return f'"steps" is {json_kind(steps)}, expected a list'
    for i, step in enumerate(steps):
        if not isinstance(step, Mapping):
            return f'steps[{i}] is {json_kind(step)}, expected an object with a "kind"'
        if step.get("kind") not in STEP_KINDS:
            return (f"steps[{i}].kind is {json.dumps(step.get('kind'))}, expected one of "
                    f"{', '.join(sorted(STEP_KINDS))}")
        if not isinstance(step.get("text"), (str, type(None))):
            return f"steps[{i}].text is {json_kind(step['text'])}, expected a string"
    labels = trajectory.get("labels")
    if labels is not None and not (isinstance(labels, list) and all(isinstance(x, str) for x in labels)):
        return f'"labels" is {json_kind(labels)}, expected a list of category names'
    return None


def read_jsonl(paths: Sequence[str]) -> Iterator[dict[str, Any]]:
    """The trajectories of JSONL files, one a line; ``InputError`` naming the file and line for a line that is not
    one, and for a file that cannot be read or holds none."""
    for path in paths:
        found = 0
        try:
            with open(path, encoding="utf-8") as fh:
                for n, line in enumerate(fh, 1):
                    line = line.strip()
                    if not line:
                        continue
                    try:
                        trajectory = json.loads(line)
                    except json.JSONDecodeError as exc:
                        raise InputError(f"{path}:{n}: not JSON ({exc.msg} at column {exc.colno})") from None
                    problem = trajectory_problem(trajectory)
                    if problem:
                        raise InputError(f"{path}:{n}: {problem}")
                    found += 1
                    yield trajectory
        except UnicodeDecodeError:
            raise InputError(f"{path}: not a text file (not UTF-8): expected JSONL trajectories") from None
        except OSError as exc:
            raise InputError(f"{path}: cannot read it ({exc.strerror or exc})") from None
        if not found:
            raise InputError(f"{path}: no trajectories in it (expected one JSON object a line, {TRAJECTORY})")


def source_of(trajectory: Mapping[str, Any], field: str = "source") -> str:
    """The group a trajectory is counted under: its ``source`` (else its id up to the first ``:``), or for
    another ``field`` that field's value (a dotted path such as ``meta.harness``; ``unknown`` if absent)."""
    if field == "source":
        source = trajectory.get("source")
        if source:
            return str(source)
        tid = str(trajectory.get("id") or "")
        return tid.split(":", 1)[0] if ":" in tid else "unknown"
    value: Any = trajectory
    for key in field.split("."):
        value = value.get(key) if isinstance(value, Mapping) else None
    return "unknown" if value is None else str(value)


def mechanism_of(finding: Finding) -> str:
    """The signal that produced a finding (the detector id when the detector names none)."""
    return finding.mechanism or finding.detector_id


def evaluate(trajectories: Iterable[Mapping[str, Any]], engine: Engine | None = None,
             categories: Sequence[str] = CATEGORIES, progress: "Progress | None" = None,
             keep_details: bool = False, min_severity: str = "medium", group_by: str = "source") -> EvalResult:
    """Score ``trajectories``. A finding flags its trajectory when its severity is at least
    ``min_severity``; lower ones (a signal the detector cannot tell from benign use) stay in the details.
    Per-group counts (``EvalResult.sources``) are by ``group_by`` (see :func:`source_of`)."""
    if min_severity not in SEVERITIES:
        raise ValueError(f"min_severity must be one of {', '.join(SEVERITIES)}")
    threshold = severity_rank(min_severity)
    engine = engine or Engine(timeout_s=None)
    result = EvalResult(min_severity=min_severity, categories={c: Counts() for c in categories})
    for trajectory in trajectories:
        tid, views = trajectory_views(trajectory)
        all_findings = engine.process_views(tid, views)
        engine.end_trace(tid)
        findings = [f for f in all_findings if severity_rank(f.severity) >= threshold]
        labels = set(trajectory.get("labels") or ())
        flagged = {f.category for f in findings}
        source = source_of(trajectory, group_by)
        for c in flagged | labels:
            result.categories.setdefault(c, Counts())
        per_source = result.sources.setdefault(source, {})
        for c in result.categories:
            _count(result.categories[c], c, labels, flagged)
            _count(per_source.setdefault(c, Counts()), c, labels, flagged)
        fired = frozenset((f.category, mechanism_of(f)) for f in findings)
        for category, mechanism in fired:
            hits = result.mechanisms.setdefault((category, mechanism), {}).setdefault(source, [0, 0])
            hits[0 if category in labels else 1] += 1
        if fired or labels:
            result.outcomes.append((source, frozenset(labels), fired))
        result.trajectories += 1
        if keep_details:
            result.details.append({
                "id": trajectory.get("id"), "source": source, "labels": sorted(labels),
                "flagged": sorted(flagged),
                "findings": [{"step": step_index(f), "category": f.category, "detector": f.detector_id,
                              "mechanism": mechanism_of(f), "severity": f.severity,
                              "explanation": f.explanation, "evidence": f.evidence}
                             for f in all_findings],
            })
        if progress is not None:
            progress.advance()
    if progress is not None:
        progress.close()
    return result


def _count(counts: Counts, category: str, labels: set[str], flagged: set[str]) -> None:
    if category in labels:
        if category in flagged:
            counts.tp += 1
        else:
            counts.fn += 1
    elif category in flagged:
        counts.fp += 1
    else:
        counts.tn += 1


class Progress:
    """A one-line progress bar on a terminal (or a line every 10% when not a terminal)."""

    def __init__(self, total: int, stream: TextIO = sys.stderr, label: str = "eval") -> None:
        self.total = max(total, 1)
        self.done = 0
        self.stream = stream
        self.label = label
        self.tty = stream.isatty()
        self._last_decile = -1

    def advance(self, n: int = 1) -> None:
        self.done += n
        if self.tty:
            if self.done % 10 == 0 or self.done == self.total:
                width = 30
                filled = int(width * self.done / self.total)
                self.stream.write(f"\r{self.label} [{'#' * filled}{'.' * (width - filled)}] "
                                  f"{self.done}/{self.total}")
                self.stream.flush()
        else:
            decile = 10 * self.done // self.total
            if decile != self._last_decile and decile % 1 == 0 and self.done > 0:
                self._last_decile = decile
                self.stream.write(f"{self.label}: {self.done}/{self.total}\n")

    def close(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()


def format_table(result: EvalResult, title: str | None = None) -> str:
    def fmt(x: Any) -> str:
        return "-" if x is None else f"{x:.3f}"

    lines = [title or f"{result.trajectories} trajectories (a finding of severity {result.min_severity} or more flags one)",
             f"{'category':<20} {'tp':>5} {'fp':>5} {'fn':>5} {'tn':>6} {'precision':>9} {'recall':>7} {'fpr':>6}"]
    for c, counts in sorted(result.categories.items()):
        d = counts.as_dict()
        lines.append(f"{c:<20} {d['tp']:>5} {d['fp']:>5} {d['fn']:>5} {d['tn']:>6} {fmt(d['precision']):>9} "
                     f"{fmt(d['recall']):>7} {fmt(d['fpr']):>6}")
    return "\n".join(lines)
