"""``otel-cot eval --monitor``: the monitor measured like the rules, on labelled trajectories.

Every trajectory is judged by the rules and by the monitor (whatever the config's triggers say: the
monitor alone can only be measured on all of them). Four ways of flagging a trajectory are scored per
category: the rules alone, the monitor alone, either (union), and a rule confirmed by the monitor (both
flagged the category: what the ``flagged`` trigger gives in production). Cost is reported per
trajectory: judge calls, tokens and judge time. Trajectories the monitor did not judge (a budget ran
out, the judge failed) count as not flagged by it and are reported, so a figure is never silently
computed on fewer trajectories than it says.
"""

from __future__ import annotations

from collections import Counter, deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from .detectors.engine import Engine
from .detectors.base import CATEGORIES, SEVERITIES, severity_rank
from .eval import Counts, EvalResult, Progress, format_table, step_index, trajectory_views
from .monitor.monitor import Monitor, Outcome

MODES = ("rules", "monitor", "union", "confirmed")
TITLES = {"rules": "rules alone", "monitor": "monitor alone", "union": "rules + monitor (either flags)",
          "confirmed": "rules confirmed by the monitor (both flag the category)"}


@dataclass
class MonitorEvalResult:
    modes: dict[str, EvalResult] = field(default_factory=lambda: {
        m: EvalResult(categories={c: Counts() for c in CATEGORIES}) for m in MODES})
    outcomes: Counter = field(default_factory=Counter)  # judged / cached / skipped:<reason> / error:<kind>
    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    judge_seconds: float = 0.0
    window_tokens: list[int] = field(default_factory=list)
    details: list[dict[str, Any]] = field(default_factory=list)
    threshold: int = 1  # severity rank a finding needs to flag its trajectory (1: medium)

    @property
    def trajectories(self) -> int:
        return self.modes["rules"].trajectories

    def cost(self) -> dict[str, Any]:
        n = max(self.trajectories, 1)
        windows = sorted(self.window_tokens) or [0]
        return {
            "trajectories": self.trajectories,
            "outcomes": dict(self.outcomes),
            "calls": self.calls,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "judge_seconds": round(self.judge_seconds, 3),
            "per_trajectory": {"calls": round(self.calls / n, 3), "input_tokens": round(self.input_tokens / n, 1),
                               "output_tokens": round(self.output_tokens / n, 1),
                               "judge_seconds": round(self.judge_seconds / n, 3)},
            "window_tokens": {"mean": round(sum(windows) / len(windows), 1), "p50": windows[len(windows) // 2],
                              "p95": windows[min(len(windows) - 1, int(len(windows) * 0.95))],
                              "max": windows[-1]},
        }

    def as_dict(self) -> dict[str, Any]:
        rules = self.modes["rules"].as_dict()
        return {**rules, "monitor": {m: self.modes[m].as_dict()["categories"] for m in MODES[1:]},
                "monitor_cost": self.cost()}


def evaluate_with_monitor(trajectories: Iterable[Mapping[str, Any]], engine: Engine, monitor: Monitor,
                          progress: Progress | None = None, keep_details: bool = False,
                          min_severity: str = "medium") -> MonitorEvalResult:
    """Rules inline, monitor calls ``monitor.config.concurrency`` at a time, scored in input order. A
    finding (the rules' or the monitor's) flags its trajectory when its severity is ``min_severity`` or
    more, as in ``otel-cot eval``."""
    if min_severity not in SEVERITIES:
        raise ValueError(f"min_severity must be one of {', '.join(SEVERITIES)}")
    result = MonitorEvalResult(threshold=severity_rank(min_severity))
    inflight: deque[tuple[Mapping[str, Any], list, Future]] = deque()
    with ThreadPoolExecutor(max_workers=monitor.config.concurrency, thread_name_prefix="otel-cot-eval") as pool:
        for trajectory in trajectories:
            tid, views = trajectory_views(trajectory)
            rule_findings = engine.process_views(tid, views)
            engine.end_trace(tid)
            rules = {f.category for f in rule_findings}
            inflight.append((trajectory, rule_findings, pool.submit(monitor.judge_views, tid, views, rules)))
            while len(inflight) > monitor.config.concurrency * 2:
                _score(result, *inflight.popleft(), keep_details)
                if progress is not None:
                    progress.advance()
        while inflight:
            _score(result, *inflight.popleft(), keep_details)
            if progress is not None:
                progress.advance()
    if progress is not None:
        progress.close()
    return result


def _score(result: MonitorEvalResult, trajectory: Mapping[str, Any], rule_findings: list, future: Future,
           keep_details: bool) -> None:
    outcome: Outcome = future.result()
    labels = set(trajectory.get("labels") or ())
    rules = {f.category for f in rule_findings if severity_rank(f.severity) >= result.threshold}
    judged = {f.category for f in outcome.findings if severity_rank(f.severity) >= result.threshold}
    flagged = {"rules": rules, "monitor": judged, "union": rules | judged, "confirmed": rules & judged}
    for mode, categories in flagged.items():
        result.modes[mode].add(labels, categories)
    result.outcomes[outcome.status + (f":{outcome.reason}" if outcome.reason else "")] += 1
    result.calls += outcome.calls
    result.input_tokens += outcome.input_tokens
    result.output_tokens += outcome.output_tokens
    result.judge_seconds += outcome.seconds
    result.window_tokens.append(outcome.window_tokens)
    if keep_details:
        result.details.append({
            "id": trajectory.get("id"), "labels": sorted(labels), "rules": sorted(rules), "monitor": sorted(judged),
            "monitor_outcome": {"status": outcome.status, "reason": outcome.reason, "calls": outcome.calls,
                                "input_tokens": outcome.input_tokens, "output_tokens": outcome.output_tokens,
                                "seconds": round(outcome.seconds, 3), "window_tokens": outcome.window_tokens},
            "findings": [{"step": step_index(f), "category": f.category, "detector": f.detector_id,
                          "severity": f.severity, "score": f.score, "explanation": f.explanation,
                          "evidence": f.evidence} for f in [*rule_findings, *outcome.findings]],
        })


def format_report(result: MonitorEvalResult) -> str:
    parts = [f"{result.trajectories} trajectories"]
    for mode in MODES:
        parts.append(format_table(result.modes[mode], title=f"\n{TITLES[mode]}"))
    cost = result.cost()
    per = cost["per_trajectory"]
    outcomes = ", ".join(f"{k} {v}" for k, v in sorted(cost["outcomes"].items()))
    parts.append(
        f"\nmonitor: {outcomes}\n"
        f"judge calls {cost['calls']}, input tokens {cost['input_tokens']}, output tokens {cost['output_tokens']}, "
        f"judge time {cost['judge_seconds']:.1f} s\n"
        f"per trajectory: {per['calls']:.2f} calls, {per['input_tokens']:.0f} input tokens, "
        f"{per['output_tokens']:.0f} output tokens, {per['judge_seconds']:.2f} s judge time\n"
        f"window tokens (estimated): mean {cost['window_tokens']['mean']:.0f}, p50 {cost['window_tokens']['p50']}, "
        f"p95 {cost['window_tokens']['p95']}, max {cost['window_tokens']['max']}")
    return "\n".join(parts)
