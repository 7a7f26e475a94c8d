"""The ``sampling`` processor: finding-aware sampling, decided per trace. Every trace with a finding is
kept, the rest by a deterministic hash of the trace id, so every collector instance (and every later
batch of the same trace) makes the same decision and no trace is cut in half."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from ..config_parsing import Section, fraction, integer
from ..registry import Factory, ProcessorContext
from ..telemetry import Metrics
from .grouping import Group


class Sampler:
    def __init__(self, keep_fraction: float, remember_traces: int = 100_000, metrics: Metrics | None = None) -> None:
        self.keep_fraction = keep_fraction
        self.remember = remember_traces
        self.metrics = metrics
        self._flagged: OrderedDict[bytes, None] = OrderedDict()  # traces kept for a finding

    def keep(self, trace_id: bytes, flagged: bool) -> bool:
        if flagged:
            self._flagged[trace_id] = None
            self._flagged.move_to_end(trace_id)
            while len(self._flagged) > self.remember:
                self._flagged.popitem(last=False)
            return True
        if trace_id in self._flagged:  # a late part of a trace already kept for a finding
            return True
        if self.keep_fraction >= 1.0:
            return True
        # The low 8 bytes of a W3C trace id are random: compare them with the threshold.
        return int.from_bytes(trace_id[8:16], "big") < int(self.keep_fraction * (1 << 64))

    def traces(self, groups: list[Group]) -> list[Group]:
        kept = []
        for group in groups:
            if self.keep(group.trace_id, group.flagged):
                kept.append(group)
            elif self.metrics is not None:
                self.metrics.inc("otelcot_sampled_out_spans_total", len(group.spans),
                                 help="Spans dropped by finding-aware sampling")
        return kept


@dataclass
class SamplingConfig:
    keep_fraction: float = 1.0
    remember_traces: int = 100_000


def parse(s: Section, d: SamplingConfig) -> SamplingConfig:
    return SamplingConfig(keep_fraction=s.get("keep_fraction", d.keep_fraction, fraction),
                          remember_traces=s.get("remember_traces", d.remember_traces, integer(1)))


def create(cfg: SamplingConfig, ctx: ProcessorContext) -> Sampler:
    return Sampler(cfg.keep_fraction, cfg.remember_traces, ctx.metrics)


factory = Factory(kind="processor", type="sampling", config=SamplingConfig, parse=parse, create=create,
                  signals=("traces",), needs=("detect",), span_writes="none")
