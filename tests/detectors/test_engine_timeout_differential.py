"""The engine's timeout path against its inline run, on random batches: detectors that find things, find
nothing, return lists, tuples, generators or None, raise (also half-way through a generator), read and
write the trace's shared state, and declare the view kinds they read.

With a timeout that never fires, the detector thread must give exactly what the inline run gives: the
same findings in the same order, the same counters, the same trace windows. With one random call stuck
past the timeout, it must give what the inline run gives when that one call finds nothing."""

from __future__ import annotations

import random
import threading
from typing import Any

from otel_cot import semconv
from otel_cot.detectors import Engine, SpanRecord
from otel_cot.detectors.base import make_finding

KINDS = ("reasoning", "tool_call", "tool_result")


class Random:
    """What it does with a view follows from a hash of the view, the detector and the trace's state."""

    version, categories = "1", ("x",)

    def __init__(self, det_id: str, rng: random.Random) -> None:
        self.id = det_id
        self.salt = rng.random()
        if rng.random() < 0.4:
            self.kinds = frozenset(rng.sample(KINDS, rng.randint(1, 2)))

    def detect(self, view, ctx):
        memo = ctx.memo.setdefault("seen", [])  # shared by the trace's detectors, as the built-ins' facts
        memo.append(self.id)
        h = hash((self.salt, view.span_id, view.kind, view.text, len(ctx.views), len(memo)))
        what = h % 9
        if what == 0:
            raise RuntimeError("bug")
        if what == 1:
            return None
        if what == 2:
            return []
        if what == 3:
            return ()
        finding = make_finding(self, view, "x", "low", 0.1, f"{what} {len(ctx.views)} {len(memo)}")
        if what == 4:
            return [finding]
        if what == 5:
            return (finding, make_finding(self, view, "x", "high", 0.9, "second"))
        if what == 6:
            return (f for f in [finding, finding])
        if what == 7:
            return self._breaks(finding)
        return []

    @staticmethod
    def _breaks(finding):
        yield finding
        raise RuntimeError("bug half-way")


def random_batches(rng: random.Random, count: int) -> list[list[SpanRecord]]:
    traces = [f"{rng.getrandbits(128):032x}" for _ in range(4)]
    batches = []
    for b in range(count):
        batch = []
        for i in range(rng.randint(1, 12)):
            attrs: dict[str, Any] = {}
            if rng.random() < 0.4:  # reasoning; repeated text is judged once per trace
                attrs[semconv.COT_REASONING_CONTENT] = f"think {rng.randint(0, 6)}"
            if rng.random() < 0.7:
                attrs[semconv.GEN_AI_TOOL_NAME] = rng.choice(["bash", "edit"])
                attrs[semconv.GEN_AI_TOOL_CALL_ID] = f"call{rng.randint(0, 15)}"  # repeated ids: judged once
                attrs[semconv.GEN_AI_TOOL_CALL_ARGUMENTS] = f'{{"command": "step {rng.randint(0, 99)}"}}'
                if rng.random() < 0.6:
                    attrs[semconv.GEN_AI_TOOL_CALL_RESULT] = rng.choice(["", "ok", f"out {i}"])
            elif rng.random() < 0.5:  # a result with no text and no tool: a view only kept in the window
                attrs[semconv.GEN_AI_TOOL_CALL_RESULT] = ""
            batch.append(SpanRecord(trace_id=rng.choice(traces), span_id=f"{b:08x}{i:08x}",
                                    name="execute_tool x", attributes=attrs, start_time_ns=i, end_time_ns=i + 1))
        batches.append(batch)
    return batches


def state(engine: Engine, results) -> tuple:
    found = [[(f.detector_id, f.span_id, f.severity, f.explanation) for f in spans] for spans in results]
    stats = engine.stats
    windows = {t: [(v.span_id, v.kind) for v in ctx.views] for t, ctx in engine._traces.items()}
    memos = {t: ctx.memo.get("seen") for t, ctx in engine._traces.items()}
    return found, stats.spans, stats.views, stats.findings, dict(stats.errors), windows, memos


def engines(seed: int, timeout_s: float) -> tuple[Engine, Engine, random.Random]:
    rng = random.Random(seed)
    detectors = [Random(f"test.r{i}", rng) for i in range(rng.randint(1, 7))]
    return Engine(detectors, timeout_s=None), Engine(detectors, timeout_s=timeout_s, max_timeouts=100), rng


def test_with_a_timeout_that_never_fires_the_detector_thread_equals_the_inline_run():
    for seed in range(40):
        inline, threaded, rng = engines(seed, 60.0)
        for batch in random_batches(rng, 6):
            assert state(threaded, threaded.process_many(batch)) == state(inline, inline.process_many(batch)), seed
        assert not threaded.stats.timeouts
        threaded.close()


class StuckOnce:
    """Wraps a detector: its ``nth`` call hangs (and would then find something) instead of running."""

    def __init__(self, inner: Random, nth: int) -> None:
        self.inner, self.nth, self.calls = inner, nth, 0
        self.id, self.version, self.categories = inner.id, inner.version, inner.categories
        if hasattr(inner, "kinds"):
            self.kinds = inner.kinds
        self.release = threading.Event()

    def detect(self, view, ctx):
        self.calls += 1
        if self.calls == self.nth:
            self.release.wait(5)
            return [make_finding(self, view, "x", "high", 1.0, "late")]
        return self.inner.detect(view, ctx)


class NothingOnce(StuckOnce):
    """The inline reference: the same call finds nothing and touches nothing."""

    def detect(self, view, ctx):
        self.calls += 1
        return () if self.calls == self.nth else self.inner.detect(view, ctx)


def test_a_random_stuck_call_loses_only_its_own_findings():
    cases = 0
    for seed in range(8):
        rng = random.Random(1000 + seed)
        detectors = [Random(f"test.r{i}", rng) for i in range(rng.randint(2, 6))]
        batch = random_batches(rng, 1)[0] + random_batches(rng, 1)[0]
        victim = rng.randrange(len(detectors))
        counter = NothingOnce(detectors[victim], 0)
        Engine([counter if i == victim else d for i, d in enumerate(detectors)], timeout_s=None).process_many(batch)
        calls = counter.calls
        if not calls:
            continue
        nth = rng.randint(1, calls)
        stuck = [StuckOnce(d, nth) if i == victim else d for i, d in enumerate(detectors)]
        reference = [NothingOnce(d, nth) if i == victim else d for i, d in enumerate(detectors)]
        threaded = Engine(stuck, timeout_s=0.05, max_timeouts=100)
        inline = Engine(reference, timeout_s=None)
        got = state(threaded, threaded.process_many(batch))
        assert got == state(inline, inline.process_many(batch)), seed
        assert threaded.stats.timeouts == {detectors[victim].id: 1}
        stuck[victim].release.set()
        threaded.close()
        cases += 1
    assert cases >= 5
