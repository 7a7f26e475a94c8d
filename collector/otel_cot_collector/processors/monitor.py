"""The ``monitor`` processor: the model-based monitor (``cot.monitor``, docs/detectors.md) after ``detect``.

Asynchronous: each trace group is filed with a :class:`~otel_cot.monitor.MonitorRunner` and passed on
unchanged, so spans are exported on time. The runner judges a trace when it has ended (its root span
arrived, or ``trace_idle`` passed), on its own threads. A verdict that arrives later goes out from
:meth:`MonitorProcessor.tick` as ``cot.finding`` spans, children of the spans the findings are about,
with the trace's resource. Those are the same spans ``detect`` makes for findings about spans no longer
held. The findings are also published like ``detect``'s (``otelcot_findings_total``, ``findings_metrics``).

A trace is filed only when the triggers could pick it: with ``every_trace`` or a ``sample`` that chooses
its id, from its first group on; with ``flagged`` alone, from the group in which a rule flagged it. The
monitor's counters are on ``/metrics`` as ``otelcot_monitor_*``.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from otel_cot.config import ConfigurationError
from otel_cot.detectors import Finding
from otel_cot.detectors.annotate import group_by_span
from otel_cot.monitor import Monitor, MonitorConfig, MonitorRunner, parse_monitor, rule_categories
from otel_cot.monitor.metrics import observations

from ..config_parsing import ConfigError, Section
from ..registry import Emit, Factory, FindingsFeed, ProcessorContext
from ..span_records import ref_record
from ..telemetry import Metrics
from .detect import service_name
from .finding_spans import SCOPE, finding_span
from .grouping import Group, SpanRef, request_of

_PROMETHEUS = {  # the monitor's OpenTelemetry counter -> the collector's Prometheus name and label
    "cot.monitor.calls": "otelcot_monitor_calls_total",
    "cot.monitor.tokens": "otelcot_monitor_tokens_total",
    "cot.monitor.judge.duration": "otelcot_monitor_judge_seconds_total",
    "cot.monitor.skipped": "otelcot_monitor_skipped_total",
    "cot.monitor.errors": "otelcot_monitor_errors_total",
    "cot.monitor.findings": "otelcot_monitor_findings_total",
}


class MonitorProcessor:
    def __init__(self, runner: MonitorRunner, metrics: Metrics, findings: FindingsFeed | None, emit: Emit) -> None:
        self.runner = runner
        self.monitor = runner.monitor
        self.metrics = metrics
        self.findings = findings
        self.emit = emit
        self._resources: OrderedDict[str, Any] = OrderedDict()  # trace id -> its ResourceSpans, for late spans
        self._max_resources = self.monitor.config.max_traces * 2
        self._reported: dict[tuple[str, tuple], float] = {}
        metrics.gauge("otelcot_monitor_pending", "Ended traces waiting for or being judged by the monitor",
                      lambda: runner.pending)
        metrics.gauge("otelcot_monitor_traces", "Traces the monitor holds until they end",
                      lambda: runner.held_traces)

    def traces(self, groups: list[Group]) -> list[Group]:
        for group in groups:
            trace_id = group.trace_id.hex()
            rules = rule_categories(group.findings)
            if not self.runner.holds(trace_id) and self.monitor.trigger(trace_id, rules) is None:
                self.monitor.count_skip("not_triggered")  # the triggers cannot pick it (yet): not filed
                continue
            order = sorted(group.spans, key=lambda r: (r.span.end_time_unix_nano, r.span.start_time_unix_nano))
            self.runner.observe([ref_record(ref) for ref in order], group.findings)
            self._resources[trace_id] = group.spans[0].resource
            self._resources.move_to_end(trace_id)
            while len(self._resources) > self._max_resources:
                self._resources.popitem(last=False)
        return groups

    def tick(self, force: bool = False) -> None:
        """Late verdicts out as ``cot.finding`` spans; at shutdown (``force``) first judge every trace held,
        waiting up to ``drain_timeout``."""
        if force:
            self.runner.close()
        found = self.runner.take()
        if found:
            self._send(found)
        self._report()

    def _send(self, found: list[Finding]) -> None:
        refs: list[SpanRef] = []
        published: list[tuple[Finding, str]] = []
        for span_id, about in group_by_span(found).items():
            resource = self._resources.get(about[0].trace_id)
            if resource is None or not span_id:
                continue  # not expected: every trace filed has its resource remembered
            refs.append(SpanRef(resource, SCOPE, finding_span(bytes.fromhex(about[0].trace_id),
                                                              bytes.fromhex(span_id), about), 0))
            published.extend((f, service_name(resource)) for f in about)
        if refs:
            self.emit("traces", request_of(refs))
        if self.findings is not None:
            self.findings.publish(published)

    def _report(self) -> None:
        """The monitor's cumulative counters as the collector's Prometheus counters (by increments)."""
        for name, points in observations(self.monitor.stats).items():
            target = _PROMETHEUS[name]
            for value, attrs in points:
                labels = tuple(sorted(("category" if k.endswith("category") else k, str(v)) for k, v in attrs.items()))
                before = self._reported.get((target, labels), 0.0)
                if value > before:
                    self.metrics.inc(target, value - before, help=f"The model-based monitor: {name}", **dict(labels))
                    self._reported[(target, labels)] = value


@dataclass
class MonitorProcessorConfig:
    monitor: MonitorConfig | None = None
    """None: ``enabled: false`` (the processor passes traces on and does nothing else)."""


def parse(s: Section, d: MonitorProcessorConfig) -> MonitorProcessorConfig:
    s.used.update(str(k) for k in s.data)  # parse_monitor reports unknown keys itself, with their path
    try:
        return MonitorProcessorConfig(parse_monitor(s.data, path=s.path))
    except ConfigurationError as exc:
        raise ConfigError(str(exc)) from None


class _Off:
    """``enabled: false``."""

    def traces(self, groups: list[Group]) -> list[Group]:
        return groups


def create(cfg: MonitorProcessorConfig, ctx: ProcessorContext) -> MonitorProcessor | _Off:
    if cfg.monitor is None:
        return _Off()
    return MonitorProcessor(MonitorRunner(Monitor(cfg.monitor)), ctx.metrics, ctx.findings, ctx.emit)


factory = Factory(kind="processor", type="monitor", config=MonitorProcessorConfig, parse=parse, create=create,
                  signals=("traces",), needs=("detect",), span_writes="none")
