"""Finding-aware sampling, decided per trace: every trace with a finding is kept, the rest by a
deterministic hash of the trace id, so every collector instance (and every later batch of the same
trace) makes the same decision and no trace is cut in half."""

from __future__ import annotations

from collections import OrderedDict


class Sampler:
    def __init__(self, keep_fraction: float, remember_traces: int = 100_000) -> None:
        self.keep_fraction = keep_fraction
        self.remember = remember_traces
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
