"""The monitor's counters as OpenTelemetry metrics (observable counters read from :class:`MonitorStats`).

In process they go to the application's ``MeterProvider`` (none set: the API's no-op one, nothing
recorded); the collector shows the same counters on its ``/metrics``.

| metric | attributes | what |
|---|---|---|
| ``cot.monitor.calls`` | | judge requests made |
| ``cot.monitor.tokens`` | ``direction`` (input, output) | tokens the judge reported (estimated when it did not) |
| ``cot.monitor.judge.duration`` | | seconds spent waiting for the judge |
| ``cot.monitor.skipped`` | ``reason`` (budget, not_triggered, queue_full, empty, rate_limited, shutdown) | traces not judged |
| ``cot.monitor.errors`` | ``kind`` (timeout, rate_limited, api_error, connection, malformed, evidence_not_in_window, internal) | judgements that failed |
| ``cot.monitor.findings`` | ``cot.finding.category`` | findings made |
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Observation

from .. import semconv
from .monitor import MonitorStats

METER_NAME = "otel_cot.monitor"


def observations(stats: MonitorStats) -> dict[str, list[tuple[float, dict[str, str]]]]:
    """Every counter's current values with their attributes (what the metrics report)."""
    return {
        "cot.monitor.calls": [(stats.calls, {})],
        "cot.monitor.tokens": [(stats.input_tokens, {"direction": "input"}),
                               (stats.output_tokens, {"direction": "output"})],
        "cot.monitor.judge.duration": [(stats.judge_seconds, {})],
        "cot.monitor.skipped": [(n, {"reason": k}) for k, n in sorted(stats.skipped.items())],
        "cot.monitor.errors": [(n, {"kind": k}) for k, n in sorted(stats.errors.items())],
        "cot.monitor.findings": [(n, {semconv.COT_FINDING_CATEGORY: k}) for k, n in sorted(stats.findings.items())],
    }


_UNITS = {"cot.monitor.tokens": "{token}", "cot.monitor.judge.duration": "s", "cot.monitor.calls": "{call}"}


def register_metrics(stats: MonitorStats, meter_provider: Any = None) -> None:
    """Observable counters for ``stats`` on ``meter_provider`` (the global one when None)."""
    meter = metrics.get_meter(METER_NAME, meter_provider=meter_provider)

    def reader(name: str) -> Callable[[CallbackOptions], Iterable[Observation]]:
        def observe(_options: CallbackOptions) -> Iterable[Observation]:
            return [Observation(value, attrs) for value, attrs in observations(stats)[name]]
        return observe

    for name in observations(stats):
        meter.create_observable_counter(name, callbacks=[reader(name)], unit=_UNITS.get(name, "1"),
                                        description=f"otel-cot monitor: {name.rsplit('.', 1)[-1]}")
