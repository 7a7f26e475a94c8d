"""Engine.process_many: one hand-off per batch, same findings as span by span, and a detector that
overruns on one span is timed out and reported without stalling or dropping the rest of the batch."""

from __future__ import annotations

import threading
import time

from otel_cot import semconv
from otel_cot.detectors import Engine, SpanRecord
from otel_cot.detectors.base import make_finding


class Always:
    id, version, categories = "test.always", "1", ("reward_hacking",)

    def detect(self, view, ctx):
        return [make_finding(self, view, "reward_hacking", "low", 0.1, f"seen {len(ctx.views)}")]


class SlowOn:
    """Hangs on the span whose id is ``span``; finds something everywhere else."""

    id, version, categories = "test.slow_on", "1", ("x",)

    def __init__(self, span: str) -> None:
        self.span = span
        self.release = threading.Event()
        self.returned = threading.Event()

    def detect(self, view, ctx):
        if view.span_id == self.span:
            self.release.wait(5)
            ctx.memo["late"] = True  # what a zombie call could still do to shared state
            self.returned.set()
            return [make_finding(self, view, "x", "low", 0.1, "late")]
        return [make_finding(self, view, "x", "low", 0.1, "on time")]


class Boom:
    id, version, categories = "test.boom", "1", ("x",)

    def detect(self, view, ctx):
        if view.span_id.endswith("3"):
            raise RuntimeError("bug")
        return ()


def spans(n: int = 6) -> list[SpanRecord]:
    return [SpanRecord(trace_id=("a" if i % 2 else "b") * 32, span_id=f"{i:016x}", name="execute_tool x",
                       attributes={semconv.GEN_AI_TOOL_NAME: "x", semconv.GEN_AI_TOOL_CALL_ARGUMENTS: f"{{\"i\": {i}}}"},
                       start_time_ns=i, end_time_ns=i + 1) for i in range(n)]


def summary(results):
    return [[(f.detector_id, f.span_id, f.explanation) for f in found] for found in results]


def test_batch_equals_span_by_span_inline_and_threaded():
    for timeout in (None, 2.0):
        one = Engine([Always(), Boom()], timeout_s=timeout)
        many = Engine([Always(), Boom()], timeout_s=timeout)
        expected = [one.process(r) for r in spans()]
        assert summary(many.process_many(spans())) == summary(expected)
        assert many.stats.errors["test.boom"] == one.stats.errors["test.boom"] == 1
        assert many.stats.spans == one.stats.spans == 6
        assert many.stats.findings == one.stats.findings == 6
        one.close()
        many.close()


def test_slow_detector_in_a_batch_is_timed_out_and_the_batch_goes_on():
    slow = SlowOn(f"{2:016x}")
    engine = Engine([slow, Always()], timeout_s=0.05, max_timeouts=5)
    t0 = time.monotonic()
    results = engine.process_many(spans())
    assert time.monotonic() - t0 < 2
    got = summary(results)
    assert len(got) == 6
    for i, found in enumerate(got):
        ids = [d for d, _, _ in found]
        if i == 2:  # the overrun call's findings are lost, the others' on the same span are not
            assert ids == ["test.always"]
        else:
            assert ids == ["test.slow_on", "test.always"]
    assert engine.stats.timeouts["test.slow_on"] == 1
    assert engine.stats.views == 6 and engine.stats.spans == 6
    # the abandoned call returns later: it must not commit anything into the results
    slow.release.set()
    assert slow.returned.wait(5)
    time.sleep(0.05)
    assert summary(results) == got
    engine.close()


def test_a_run_abandoned_mid_view_resumes_after_the_stuck_detector_among_those_that_read_the_view():
    class Skipped(Always):  # reads another kind: not in this view's run, but it has a detector index
        id, kinds = "test.skipped", frozenset({"user"})

    class Later(Always):
        id = "test.later"

    slow = SlowOn(f"{2:016x}")
    engine = Engine([Skipped(), Always(), slow, Later()], timeout_s=0.05, max_timeouts=5)
    got = summary(engine.process_many(spans(4)))
    assert [[d for d, _, _ in found] for found in got] == [
        ["test.always", "test.slow_on", "test.later"], ["test.always", "test.slow_on", "test.later"],
        ["test.always", "test.later"], ["test.always", "test.slow_on", "test.later"]]
    assert engine.stats.timeouts["test.slow_on"] == 1 and engine.stats.findings == 11
    slow.release.set()
    assert slow.returned.wait(5)
    engine.close()


def test_detector_disabled_after_repeated_timeouts_in_one_batch():
    class Hang:
        id, version, categories = "test.hang", "1", ("x",)
        release = threading.Event()

        def detect(self, view, ctx):
            self.release.wait(5)
            return ()

    hang = Hang()
    engine = Engine([hang, Always()], timeout_s=0.05, max_timeouts=2)
    t0 = time.monotonic()
    results = engine.process_many(spans(5))
    assert time.monotonic() - t0 < 2
    assert all([f.detector_id for f in found] == ["test.always"] for found in results)
    assert engine.stats.timeouts["test.hang"] == 2
    assert "test.hang" in engine.stats.disabled
    hang.release.set()
    engine.close()


def test_window_keeps_small_attributes_only_and_memory_stays_bounded():
    import json
    import tracemalloc

    class Spy:
        id, version, categories = "test.spy", "1", ("x",)
        seen: list = []

        def detect(self, view, ctx):
            self.seen.append((view.attributes.get(semconv.GEN_AI_INPUT_MESSAGES) is not None,
                              [v.attributes.get(semconv.GEN_AI_INPUT_MESSAGES) for v in ctx.views]))
            return ()

    history = json.dumps([{"role": "user", "parts": [{"type": "text", "content": "x" * 50_000}]},
                          {"role": "assistant", "parts": [{"type": "text", "content": "ok"}]},
                          {"role": "user", "parts": [{"type": "text", "content": "next"}]}])

    def chat(trace: int, i: int) -> SpanRecord:
        return SpanRecord(trace_id=f"{trace:032x}", span_id=f"{i:016x}", name="chat m",
                          attributes={semconv.GEN_AI_INPUT_MESSAGES: history.replace("next", f"next {trace} {i}"),
                                      "gen_ai.request.model": "m"},
                          start_time_ns=i, end_time_ns=i + 1)

    spy = Spy()
    engine = Engine([spy], timeout_s=None, max_traces=50)
    engine.process_many([chat(0, i) for i in range(3)])
    assert all(current for current, _ in spy.seen)  # the judged view has its span's attributes
    assert spy.seen[-1][1] == [None, None]  # the window's views do not keep the 50 KB history
    assert all(v.attributes.get("gen_ai.request.model") == "m" for v in engine._traces[f"{0:032x}"].views)

    tracemalloc.start()
    for t in range(1, 400):  # 400 traces x 3 spans of 50 KB history, 50 traces kept
        engine.process_many([chat(t, i) for i in range(3)])
    held = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    assert held < 5_000_000, held  # each span's 50 KB history would be 7.5 MB in the 50 windows


def test_the_window_drops_exactly_the_attributes_over_the_limit_of_every_type():
    from otel_cot.detectors.engine import WINDOW_ATTRIBUTE_CHARS as LIMIT

    attrs = {semconv.GEN_AI_TOOL_NAME: "x", semconv.GEN_AI_TOOL_CALL_ARGUMENTS: "{}", "at": "a" * LIMIT,
             "over": "a" * (LIMIT + 1), "n": 7, "ok": True, "list": ("abc",) * 10,
             "long list": ("abcdefghij",) * (LIMIT // 10 + 1), "bytes": b"b" * (LIMIT + 1)}
    for order in (list(attrs), list(reversed(attrs))):  # the first large value found anywhere in the mapping
        engine = Engine([Always()], timeout_s=None)
        record = SpanRecord(trace_id="c" * 32, span_id="1" * 16, name="execute_tool x",
                            attributes={k: attrs[k] for k in order})
        engine.process_many([record])
        (kept,) = engine._traces["c" * 32].views
        assert set(kept.attributes) == {semconv.GEN_AI_TOOL_NAME, semconv.GEN_AI_TOOL_CALL_ARGUMENTS, "at", "n",
                                        "ok", "list"}


class Sleeps:
    """Takes ``seconds`` on every view (less than the timeout), finds something every time."""

    version, categories = "1", ("x",)

    def __init__(self, det_id: str, seconds: float) -> None:
        self.id, self.seconds = det_id, seconds

    def detect(self, view, ctx):
        time.sleep(self.seconds)
        return [make_finding(self, view, "x", "low", 0.1, "slept")]


def test_only_a_single_call_past_the_timeout_is_timed_out_not_a_view_or_a_run():
    # every call takes 0.03 s of a 0.05 s timeout: the same detector runs on view after view for ~0.25 s, and
    # with two of them each view takes 0.06 s; none of that is one call running past the timeout
    for detectors in ([Sleeps("test.a", 0.03)], [Sleeps("test.a", 0.03), Sleeps("test.b", 0.03)]):
        engine = Engine(detectors, timeout_s=0.05, max_timeouts=1)
        results = engine.process_many(spans(8))
        assert [[d for d, _, _ in found] for found in summary(results)] == [[d.id for d in detectors]] * 8
        assert not engine.stats.timeouts and not engine.stats.disabled
        engine.close()


class Gate:
    """Says when a call has started, and returns only when released."""

    version, categories = "1", ("x",)

    def __init__(self, det_id: str) -> None:
        self.id = det_id
        self.entered = threading.Event()
        self.release = threading.Event()

    def detect(self, view, ctx):
        self.entered.set()
        assert self.release.wait(5)
        return [make_finding(self, view, "x", "low", 0.1, "gate")]


def _gated_run():
    """A worker started on one view whose detectors are Always, Gate 1, Gate 2 and Later (indexes 0-3)."""
    from otel_cot.detectors.engine import _Batch, _Progress
    from otel_cot.detectors.views import keyed_views

    class Later(Always):
        id = "test.later"

    first, second = Gate("test.gate1"), Gate("test.gate2")
    engine = Engine([Always(), first, second, Later()], timeout_s=2.0)
    batch = _Batch([(r.trace_id, *keyed_views(r)) for r in spans(1)])
    progress = _Progress()
    worker = threading.Thread(target=engine._work, args=(batch, progress))
    worker.start()
    assert first.entered.wait(5)
    return engine, batch, progress, worker, first, second


def _resumed(engine, batch):
    from otel_cot.detectors.engine import _Progress

    engine._work(batch, _Progress())  # the fresh worker's run, here on the test's thread
    return [[f.detector_id for f in found] for found in batch.results]


def test_a_worker_whose_call_returns_after_its_view_was_taken_commits_nothing_and_calls_nothing_more():
    engine, batch, progress, worker, first, second = _gated_run()
    current = progress.view
    assert current[4] == [1]  # the worker is in detector 1's call
    assert engine._take(batch, current, 1)  # the waiter takes the view
    first.release.set()  # the stuck call returns: it must not commit, nor call the next detector
    worker.join(5)
    assert not worker.is_alive() and not second.entered.is_set()
    assert batch.results == [[]] and engine.stats.findings == 0
    second.release.set()
    assert _resumed(engine, batch) == [["test.always", "test.gate2", "test.later"]]
    assert engine.stats.views == 1 and engine.stats.findings == 3


def test_a_worker_that_went_on_to_the_next_call_just_before_its_view_was_taken_commits_nothing():
    # the call seen overrunning (detector 1) returns and the worker starts detector 2 between the waiter's
    # last look and its taking the view: detector 1 is still the one abandoned, detector 2 runs again on
    # the fresh worker, and each finding is committed once, by the fresh worker
    engine, batch, progress, worker, first, second = _gated_run()
    current = progress.view
    first.release.set()
    assert second.entered.wait(5)
    assert current[4] == [2]
    assert engine._take(batch, current, 1)
    second.release.set()
    worker.join(5)
    assert not worker.is_alive()
    assert batch.results == [[]]
    job, view, start, found, ctx = batch.resume
    assert (job, view, start) == (0, 0, 2) and [index for index, _ in found] == [0]
    assert _resumed(engine, batch) == [["test.always", "test.gate2", "test.later"]]
    assert engine.stats.findings == 3


def test_a_view_its_worker_committed_first_cannot_be_taken():
    engine, batch, progress, worker, first, second = _gated_run()
    current = progress.view
    first.release.set()
    second.release.set()
    worker.join(5)
    assert not engine._take(batch, current, 1)
    assert batch.resume[:3] == (0, 0, 0)
    assert [[f.detector_id for f in found] for found in batch.results] == [
        ["test.always", "test.gate1", "test.gate2", "test.later"]]
