"""Per-minute and per-day budgets of judge calls and tokens.

A call is admitted only if one more call and its estimated tokens fit every budget; it is then charged
at once (so concurrent callers cannot overspend together) and settled with the tokens the judge
reported. Minutes and days are fixed periods (UTC); a budget that runs out stops the monitor until its
period ends. The first refusal of a period is logged once.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable

from .config import Budgets

logger = logging.getLogger("otel_cot.monitor")

_PERIODS = {"minute": 60, "day": 86_400}


class Budget:
    def __init__(self, budgets: Budgets, clock: Callable[[], float] = time.time) -> None:
        self._limits = {
            ("calls", "minute"): budgets.calls_per_minute,
            ("calls", "day"): budgets.calls_per_day,
            ("tokens", "minute"): budgets.tokens_per_minute,
            ("tokens", "day"): budgets.tokens_per_day,
        }
        self._clock = clock
        self._lock = threading.Lock()
        self._period: dict[str, int] = {}
        self._used: dict[tuple[str, str], int] = {k: 0 for k in self._limits}
        self._announced: set[tuple[str, int]] = set()

    def _roll(self) -> None:
        now = self._clock()
        for name, seconds in _PERIODS.items():
            current = int(now // seconds)
            if self._period.get(name) != current:
                self._period[name] = current
                for what in ("calls", "tokens"):
                    self._used[(what, name)] = 0

    def admit(self, tokens: int) -> str | None:
        """Charge one call of about ``tokens`` tokens; the name of the budget that refuses it (e.g.
        ``calls_per_minute``), or None when admitted."""
        with self._lock:
            self._roll()
            for (what, period), limit in self._limits.items():
                need = 1 if what == "calls" else tokens
                if limit and self._used[(what, period)] + need > limit:
                    name = f"{what}_per_{period}"
                    episode = (name, self._period[period])
                    if episode not in self._announced:
                        self._announced.add(episode)
                        if len(self._announced) > 64:
                            self._announced = {episode}
                        logger.warning("otel-cot monitor: budget %s (%d) is spent; no judge calls until the %s "
                                       "ends (windows skipped meanwhile are counted as skipped, reason budget)",
                                       name, limit, period)
                    return name
            self._used[("calls", "minute")] += 1
            self._used[("calls", "day")] += 1
            self._used[("tokens", "minute")] += tokens
            self._used[("tokens", "day")] += tokens
            return None

    def settle(self, estimated: int, actual: int) -> None:
        """Replace a call's estimated tokens with what it really used."""
        with self._lock:
            self._roll()
            for period in _PERIODS:
                self._used[("tokens", period)] = max(0, self._used[("tokens", period)] + actual - estimated)

    def used(self) -> dict[str, int]:
        with self._lock:
            self._roll()
            return {f"{what}_per_{period}": n for (what, period), n in self._used.items()}
