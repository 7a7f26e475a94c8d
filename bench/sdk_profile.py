"""In-process micro-profile of otel-cot's own cost per model call and per streamed chunk.

    python bench/sdk_profile.py                       # direct: our code only, µs per call / per chunk
    python bench/sdk_profile.py --e2e                 # real SDK over an in-memory transport, bare vs otel-cot
    python bench/sdk_profile.py --cprofile openai.chat.stream   # where the time goes, one scenario
                                                    # (SDK_PROFILE_SORT=cumulative, SDK_PROFILE_TOP=60)
    python bench/sdk_profile.py --instructions        # direct mode counted by callgrind: load-independent
    python bench/sdk_profile.py --marginal            # CPU time of one more streamed chunk
    python bench/sdk_profile.py --interleaved         # our code alone, and between real (bare) SDK calls
    python bench/sdk_profile.py --breakdown           # CPU µs of each part of our code (with --instructions: in instructions)

Direct mode times exactly the code a model call runs through otel-cot, with the SDK taken out: the
same six scenarios and recorded payloads as bench/sdk_overhead.py, parsed once into the SDK's own
objects (responses, stream events) by the real SDK; then, per call, our ``run_model_call`` with an
``invoke`` that returns that object (streams: a real ``openai`` / ``anthropic`` ``Stream`` object whose
iterator yields the parsed events, read to the end as a caller would). Spans go through one
BatchSpanProcessor to a no-op exporter, content capture on, as in bench/sdk_overhead.py. Reported per
scenario: median µs per call, split into start (wrapper up to the SDK's return), the chunks (median per
chunk: the marginal per-chunk cost) and finish (end of stream / response: writing the span, reasoning
spans); and total ÷ chunks, the issue's per-chunk definition.

Instructions mode runs direct mode under valgrind's callgrind and counts the instructions of our code per
call, and per streamed chunk beyond the first: each stream once as recorded and once with its delta events
(the chunks that carry text or arguments) repeated, the difference divided by the chunks added. Counts do
not move with the machine's load, so a change of a few percent shows; they are not time (an instruction
that misses the cache costs more).

E2E mode runs the real SDK call (request built, response parsed) over httpx2.MockTransport, bare and
instrumented in alternating blocks, and reports the median difference: a check that direct mode did
not leave out a cost. It is noisier (the SDK's own ~0.5-2 ms per call varies).
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from sdk_overhead import SCENARIOS, callgrind, instruction_calls, load, request_kwargs  # noqa: E402


def _transport(body: bytes, ctype: str, status: int):
    import httpx2

    def handler(request):
        return httpx2.Response(status, headers={"content-type": ctype}, content=body)

    return httpx2.MockTransport(handler)


def _client(name: str):
    """A real SDK client whose transport answers with the scenario's recorded response, and its create()."""
    import anthropic
    import httpx2
    import openai

    sdk, api, _ = SCENARIOS[name]
    response = load(name)["response"]
    if response.get("sse") is not None:
        body, ctype = response["sse"].encode(), "text/event-stream; charset=utf-8"
    else:
        body, ctype = json.dumps(response["body"]).encode(), "application/json"
    http = httpx2.Client(transport=_transport(body, ctype, response["status"]))
    if sdk == "openai":
        client = openai.OpenAI(api_key="sk-bench", base_url="http://127.0.0.1:9/v1", max_retries=0, http_client=http)
        resource = client.chat.completions if api == "chat" else client.responses
    else:
        client = anthropic.Anthropic(api_key="sk-bench", base_url="http://127.0.0.1:9", max_retries=0,
                                     http_client=http)
        resource = client.messages
    return resource


def _provider():
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

    class NoopExporter(SpanExporter):
        spans = 0

        def export(self, spans):
            NoopExporter.spans += len(spans)
            return SpanExportResult.SUCCESS

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(NoopExporter()))
    return provider, NoopExporter


class Direct:
    """One scenario's inputs parsed once, and a function that runs our code over them."""

    def __init__(self, name: str, telemetry, repeat_deltas: int = 1) -> None:
        from otel_cot.instrumentation.anthropic import messages
        from otel_cot.instrumentation.openai import chat, responses
        from otel_cot.instrumentation._wrappers import ApiAdapter
        import anthropic._streaming
        import openai._streaming

        sdk, api, _ = SCENARIOS[name]
        self.name = name
        self.instance = _client(name)
        self.kwargs = request_kwargs(name, self.instance.create)
        self.stream = bool(self.kwargs.get("stream"))
        result = self.instance.create(**self.kwargs)  # uninstrumented here: the SDK's own objects
        self.events = list(result) if self.stream else None
        if self.events and repeat_deltas > 1:
            self.events = [e for event in self.events for e in [event] * (repeat_deltas if _is_delta(event) else 1)]
        self.result = None if self.stream else result
        module = {"chat": chat, "responses": responses, "messages": messages}[api]
        streams = (openai._streaming.Stream, openai._streaming.AsyncStream) if sdk == "openai" else (
            anthropic._streaming.Stream, anthropic._streaming.AsyncStream)
        self.stream_cls = streams[0]
        accumulator = {"chat": chat.ChatStreamAccumulator, "responses": responses.ResponsesStreamAccumulator,
                       "messages": messages.MessagesStreamAccumulator}[api]
        self.adapter = ApiAdapter(module.request, module.response, accumulator, streams)
        self.telemetry = telemetry

    def _invoke(self):
        if not self.stream:
            return self.result
        stream = object.__new__(self.stream_cls)
        stream._iterator = iter(self.events)
        return stream

    def run(self) -> None:
        """One call through our code, a stream read to the end; nothing timed."""
        from otel_cot.instrumentation._wrappers import run_model_call

        result = run_model_call(self.telemetry, self.adapter, self.instance, self.kwargs, self._invoke)
        if self.stream:
            for _ in result._iterator:
                pass

    def once(self) -> tuple[int, int, list[int], int]:
        """(total, start, per-chunk times, finish) in ns for one call."""
        from otel_cot.instrumentation._wrappers import run_model_call

        clock = time.perf_counter_ns
        t0 = clock()
        result = run_model_call(self.telemetry, self.adapter, self.instance, self.kwargs, self._invoke)
        t1 = clock()
        if not self.stream:
            return t1 - t0, t1 - t0, [], 0
        it = result._iterator
        per = []
        last = t1
        for _ in range(len(self.events)):
            next(it)
            now = clock()
            per.append(now - last)
            last = now
        for _ in it:  # StopIteration: the span ends here
            pass
        t2 = clock()
        return t2 - t0, t1 - t0, per, t2 - last


def _is_delta(event) -> bool:
    """A stream event that only adds text or arguments: repeating it makes a longer stream of the same shape."""
    kind = getattr(event, "type", None)
    if isinstance(kind, str):
        return kind.endswith("delta") and kind != "message_delta"
    choices = getattr(event, "choices", None) or ()
    return any(getattr(c, "finish_reason", None) is None and getattr(c, "delta", None) is not None for c in choices) \
        and getattr(event, "usage", None) is None


def _telemetry():
    from otel_cot.config import Settings
    from otel_cot.instrumentation._base import Telemetry
    from opentelemetry import trace

    provider, exporter = _provider()
    trace.set_tracer_provider(provider)
    tracer = trace.get_tracer("otel_cot", tracer_provider=provider)
    return Telemetry(tracer, Settings.from_env({}, capture_content=True)), provider, exporter


REPEAT = 3
"""Instructions mode: each delta event of a stream three times, for the marginal cost of a chunk."""


def _ablations(telemetry) -> dict:
    """Breakdown mode: each part of our code, and how to run a call without it (a context manager)."""
    import contextlib
    import dataclasses

    from opentelemetry import trace

    from otel_cot import secrets
    from otel_cot.instrumentation import _model_call

    @contextlib.contextmanager
    def patched(owner, name, value):
        old = getattr(owner, name)
        setattr(owner, name, value)
        try:
            yield
        finally:
            setattr(owner, name, old)

    @contextlib.contextmanager
    def no_sdk_spans():
        old = telemetry.tracer
        telemetry.tracer = trace.NoOpTracer()
        try:
            yield
        finally:
            telemetry.tracer = old

    @contextlib.contextmanager
    def no_content():
        old = telemetry.settings
        telemetry.settings = dataclasses.replace(old, capture_content=False)
        try:
            yield
        finally:
            telemetry.settings = old

    @contextlib.contextmanager
    def no_secret_scan():
        with patched(secrets, "redact", lambda text, **_: (text, 0)):
            if hasattr(secrets, "may_contain_secret"):
                with patched(secrets, "may_contain_secret", lambda text: False):
                    yield
            else:
                yield

    def cached(run, attribute):
        """The adapter's request / response reader replaced by one that returns what it returned once."""
        real = getattr(run.adapter, attribute)
        memo = {}

        def once(*args):
            if "value" not in memo:
                memo["value"] = real(*args)
            return memo["value"]

        return patched(run, "adapter", dataclasses.replace(run.adapter, **{attribute: once}))

    return {
        "OpenTelemetry SDK span work (NoOpTracer)": lambda run: no_sdk_spans(),
        "content capture (capture_content=False)": lambda run: no_content(),
        "secret scan (finds nothing)": lambda run: no_secret_scan(),
        "JSON of the messages (to_json returns '')": lambda run: patched(_model_call, "to_json", lambda value: ""),
        "reasoning spans": lambda run: patched(_model_call.ModelCall, "_emit_reasoning_spans", lambda *a: None),
        "request extraction": lambda run: cached(run, "request"),
        "response extraction (non-stream)": lambda run: cached(run, "response"),
        "stream accumulation (add does nothing)": lambda run: patched(
            run, "adapter", dataclasses.replace(run.adapter, accumulator=lambda real=run.adapter.accumulator: _NoAdd(real()))),
    }


class _NoAdd:
    def __init__(self, accumulator) -> None:
        self._accumulator = accumulator

    def add(self, chunk, now_ns) -> None:
        pass

    def result(self):
        return self._accumulator.result()


def time_breakdown(args) -> dict:
    """--breakdown without --instructions: what each part costs in CPU time, back to back in this process.

    Per scenario, the whole call and the call without each part (the ablations of ``_ablations``), in
    alternating blocks of ``--iters`` calls (7 rounds); a part costs the median whole call minus the median
    call without it.
    """
    import contextlib

    telemetry, provider, _ = _telemetry()
    ablations = _ablations(telemetry)
    out = {}
    for name in args.scenarios.split(","):
        run = Direct(name, telemetry)
        parts = {part: without for part, without in ablations.items()
                 if not ((part.endswith("(non-stream)") and run.stream) or (part.startswith("stream") and not run.stream))}
        samples: dict[str, list[float]] = {"whole call": [], **{part: [] for part in parts}}
        for _ in range(7):
            for part in samples:
                with parts[part](run) if part in parts else contextlib.nullcontext():
                    for _ in range(args.warmup):
                        run.run()
                    provider.force_flush()
                    started = time.process_time_ns()
                    for _ in range(args.iters):
                        run.run()
                    provider.force_flush()
                    samples[part].append((time.process_time_ns() - started) / args.iters / 1000)
        whole = statistics.median(samples["whole call"])
        out[name] = {"whole call": whole, **{part: whole - statistics.median(v) for part, v in samples.items()
                                             if part != "whole call"}}
    print(f"# what each part costs: CPU µs per call, back to back (direct mode, {args.iters} calls per block, 7 rounds;"
          " parts overlap as in --instructions --breakdown)")
    names = list(out)
    rows = list(dict.fromkeys(part for o in out.values() for part in o))
    print("| part | " + " | ".join(names) + " |")
    print("|---" * (1 + len(names)) + "|")
    for part in rows:
        print(f"| {part} | " + " | ".join(f"{out[n][part]:,.1f}" if part in out[n] else "" for n in names) + " |")
    return out


def instructions_worker(args) -> None:
    """Each scenario's calls (and each stream's longer version, and with --breakdown each call without one part of
    our code) inside ``operator.call``, counted by the parent."""
    import operator

    telemetry, provider, _ = _telemetry()
    ablations = _ablations(telemetry) if args.breakdown else {}

    def block(run, n: int) -> None:
        for _ in range(n):
            run()
        provider.force_flush()

    order = []
    for name in args.scenarios.split(","):
        for repeat in (1, REPEAT):
            run = Direct(name, telemetry, repeat)
            if repeat > 1 and not run.stream:
                continue
            for _ in range(args.warmup):
                run.run()
            operator.call(block, run.run, instruction_calls(name))
            order.append([name, repeat, len(run.events or ()), None])
        run = Direct(name, telemetry)
        for part, without in ablations.items():
            if (part.endswith("(non-stream)") and run.stream) or (part.startswith("stream") and not run.stream):
                continue
            with without(run):
                for _ in range(args.warmup):
                    run.run()
                operator.call(block, run.run, instruction_calls(name))
            order.append([name, 1, len(run.events or ()), part])
    print(json.dumps(order))


def instructions(args) -> dict:
    import os

    cmd = [sys.executable, str(Path(__file__).resolve()), "--instructions-worker", "--scenarios", args.scenarios,
           "--warmup", "3"] + (["--breakdown"] if args.breakdown else [])
    order, counts = callgrind(cmd, dict(os.environ, PYTHONPATH=str(ROOT)))
    per_call: dict[str, dict] = {}
    for (name, repeat, chunks, part), count in zip(order, counts):
        per_call.setdefault(name, {})[part or repeat] = (count / instruction_calls(name), chunks)
    print("# instructions of our code (direct mode, callgrind, PYTHONHASHSEED=0)")
    print("| scenario | chunks | per call k | per chunk beyond the first (marginal) | per call ÷ chunks |")
    print("|---|---|---|---|---|")
    out = {}
    for name, runs in per_call.items():
        total, chunks = runs[1]
        marginal = None
        if REPEAT in runs:
            longer, more = runs[REPEAT]
            marginal = (longer - total) / (more - chunks)
        parts = {part: total - value for part, (value, _) in runs.items() if isinstance(part, str)}
        out[name] = dict(chunks=chunks, per_call=total, marginal=marginal, parts=parts)
        print(f"| {name} | {chunks or ''} | {total / 1000:,.1f} | {'' if marginal is None else f'{marginal:,.0f}'} | "
              f"{f'{total / chunks:,.0f}' if chunks else ''} |")
    if args.breakdown:
        print()
        print("# what each part costs: per call minus per call without it, thousands of instructions (parts overlap:"
              " the reasoning spans include their share of SDK span work and of the secret scan)")
        names = list(out)
        parts = list(dict.fromkeys(p for o in out.values() for p in o["parts"]))
        print("| part | " + " | ".join(names) + " |")
        print("|---" * (1 + len(names)) + "|")
        for part in parts:
            cells = [f"{out[n]['parts'][part] / 1000:,.0f}" if part in out[n]["parts"] else "" for n in names]
            print(f"| {part} | " + " | ".join(cells) + " |")
    return out


def marginal(args) -> dict:
    """CPU time of one more chunk: each stream as recorded and with its delta events repeated, in alternating blocks
    of about 50 ms of CPU; (per-call CPU of the longer - of the recorded) ÷ chunks added, median over the pairs."""
    import random

    telemetry, provider, _ = _telemetry()
    cpu = time.process_time_ns
    out = {}
    print("# CPU per chunk beyond the first (our code, direct mode): median over pairs of blocks, [min, max]")
    print("| scenario | chunks | longer | µs per chunk | range |")
    print("|---|---|---|---|---|")
    for name in args.scenarios.split(","):
        short, long_ = Direct(name, telemetry), Direct(name, telemetry, REPEAT)
        if not short.stream:
            continue
        sizes = {}
        for run in (short, long_):
            for _ in range(args.warmup):
                run.run()
            c = cpu()
            for _ in range(5):
                run.run()
            sizes[run] = max(2, round(50e6 * 5 / max(cpu() - c, 1)))
        added = len(long_.events) - len(short.events)
        per_chunk = []
        rnd = random.Random(0)
        for _ in range(args.pairs):
            per_call = {}
            for run in rnd.sample([short, long_], 2):
                provider.force_flush()
                c = cpu()
                for _ in range(sizes[run]):
                    run.run()
                provider.force_flush()
                per_call[run] = (cpu() - c) / sizes[run]
            per_chunk.append((per_call[long_] - per_call[short]) / added / 1000)
        median = statistics.median(per_chunk)
        out[name] = dict(chunks=len(short.events), longer=len(long_.events), us_per_chunk=median,
                         range=[min(per_chunk), max(per_chunk)])
        print(f"| {name} | {len(short.events)} | {len(long_.events)} | {median:.2f} | "
              f"{min(per_chunk):.2f}-{max(per_chunk):.2f} |")
    return out


def interleaved(args) -> dict:
    """CPU of our code (direct mode) run back to back, and run right after a bare SDK call of the same scenario
    (real SDK over MockTransport, not instrumented): (SDK call + our code) - (SDK call alone), in alternating blocks.
    The difference is what the SDK's own work between our calls costs our code (caches). Also the CPU of every
    thread but the calling one (process - thread CPU: the batch span processor's export) per call."""
    telemetry, provider, _ = _telemetry()
    cpu, own = time.process_time_ns, time.thread_time_ns
    out = {}
    print("# our code (direct mode) back to back, and between bare SDK calls: µs per call, median over "
          f"{args.pairs} rounds of {args.iters} calls [min, max]")
    print("| scenario | back to back | SDK call alone | between SDK calls | ratio | other threads |")
    print("|---|---|---|---|---|---|")
    for name in args.scenarios.split(","):
        run = Direct(name, telemetry)
        resource = _client(name)
        kwargs = request_kwargs(name, resource.create)

        def sdk(resource=resource, kwargs=kwargs) -> None:
            result = resource.create(**kwargs)
            if kwargs.get("stream"):
                for _ in result:
                    pass

        def both() -> None:
            sdk()
            run.run()

        rows: dict[str, list[float]] = {"hot": [], "sdk": [], "both": [], "other": []}
        for _ in range(args.pairs):
            for _ in range(args.warmup):
                both()
            for key, body in (("hot", run.run), ("sdk", sdk), ("both", both)):
                provider.force_flush()
                c, t = cpu(), own()
                for _ in range(args.iters):
                    body()
                provider.force_flush()
                rows[key].append((cpu() - c) / args.iters / 1000)
                if key == "hot":
                    rows["other"].append(((cpu() - c) - (own() - t)) / args.iters / 1000)
        between = [b - s for b, s in zip(rows["both"], rows["sdk"])]
        hot, cold = statistics.median(rows["hot"]), statistics.median(between)
        out[name] = dict(back_to_back_us=hot, sdk_us=statistics.median(rows["sdk"]), between_sdk_calls_us=cold,
                         between_range=[min(between), max(between)], other_threads_us=statistics.median(rows["other"]))
        print(f"| {name} | {hot:.0f} | {out[name]['sdk_us']:.0f} | {cold:.0f} [{min(between):.0f}, {max(between):.0f}] | "
              f"{cold / hot:.2f} | {out[name]['other_threads_us']:.1f} |")
    return out


def direct(args, profiler=None) -> dict:
    telemetry, provider, exporter = _telemetry()
    names = args.scenarios.split(",")
    runs = {n: Direct(n, telemetry) for n in names}
    for _ in range(args.warmup):
        for n in names:
            runs[n].once()
    samples = {n: {"total": [], "start": [], "chunk": [], "finish": []} for n in names}
    gc.collect()
    if profiler is not None:
        profiler.enable()
    for _ in range(args.iters):
        for n in names:
            total, start, per, finish = runs[n].once()
            s = samples[n]
            s["total"].append(total)
            s["start"].append(start)
            s["chunk"].extend(per)
            s["finish"].append(finish)
    if profiler is not None:
        profiler.disable()
    provider.force_flush()
    out = {}
    print(f"# direct: our code only, {args.iters} calls per scenario (median µs); spans exported {exporter.spans}")
    print("| scenario | chunks | total µs | start µs | per chunk µs (marginal) | finish µs | total ÷ chunks µs |")
    print("|---|---|---|---|---|---|---|")
    for n in names:
        s = samples[n]
        chunks = len(runs[n].events or ())
        total = statistics.median(s["total"]) / 1000
        start = statistics.median(s["start"]) / 1000
        chunk = statistics.median(s["chunk"]) / 1000 if s["chunk"] else None
        chunk_mean = statistics.fmean(s["chunk"]) / 1000 if s["chunk"] else None
        finish = statistics.median(s["finish"]) / 1000 if chunks else None
        out[n] = dict(chunks=chunks, total_us=total, start_us=start, chunk_median_us=chunk, chunk_mean_us=chunk_mean,
                      finish_us=finish, per_chunk_us=total / chunks if chunks else None)
        print(f"| {n} | {chunks or ''} | {total:.1f} | {start:.1f} | "
              f"{'' if chunk is None else f'{chunk:.2f} (mean {chunk_mean:.2f})'} | "
              f"{'' if finish is None else f'{finish:.1f}'} | {'' if not chunks else f'{total / chunks:.2f}'} |")
    return out


def e2e(args) -> dict:
    import otel_cot
    from opentelemetry import trace

    provider, exporter = _provider()
    trace.set_tracer_provider(provider)
    names = args.scenarios.split(",")
    resources = {n: _client(n) for n in names}
    bodies = {n: request_kwargs(n, resources[n].create) for n in names}

    def call(n):
        result = resources[n].create(**bodies[n])
        if bodies[n].get("stream"):
            for _ in result:
                pass

    clock = time.perf_counter_ns
    samples = {v: {n: [] for n in names} for v in ("bare", "otel-cot")}
    from otel_cot.instrumentation.anthropic import AnthropicInstrumentor
    from otel_cot.instrumentation.openai import OpenAIInstrumentor
    from otel_cot.config import Settings
    import dataclasses

    settings = dataclasses.replace(Settings.from_env({}), capture_content=True)
    instrumentors = [OpenAIInstrumentor(), AnthropicInstrumentor()]
    del otel_cot
    block = max(1, args.iters // 10)
    for rnd in range(10):
        for variant in ("bare", "otel-cot") if rnd % 2 == 0 else ("otel-cot", "bare"):
            for i in instrumentors:
                if i.is_instrumented_by_opentelemetry:
                    i.uninstrument()
            if variant == "otel-cot":
                for i in instrumentors:
                    i.instrument(tracer_provider=provider, settings=settings)
            for _ in range(args.warmup if rnd == 0 else 3):
                for n in names:
                    call(n)
            for _ in range(block):
                for n in names:
                    t = clock()
                    call(n)
                    samples[variant][n].append(clock() - t)
    provider.force_flush()
    print(f"# e2e: real SDK over MockTransport, {block * 10} calls per scenario per variant (median µs)")
    print("| scenario | bare µs | otel-cot µs | overhead µs |")
    print("|---|---|---|---|")
    out = {}
    for n in names:
        b = statistics.median(samples["bare"][n]) / 1000
        o = statistics.median(samples["otel-cot"][n]) / 1000
        out[n] = dict(bare_us=b, ours_us=o, overhead_us=o - b)
        print(f"| {n} | {b:.0f} | {o:.0f} | {o - b:+.0f} |")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenarios", default=",".join(SCENARIOS))
    ap.add_argument("--iters", type=int, default=400)
    ap.add_argument("--warmup", type=int, default=30)
    ap.add_argument("--e2e", action="store_true")
    ap.add_argument("--cprofile", metavar="SCENARIO", help="cProfile our code on one scenario, top functions")
    ap.add_argument("--instructions", action="store_true", help="count instructions under callgrind (slow)")
    ap.add_argument("--marginal", action="store_true",
                    help="CPU time per chunk beyond the first: streams as recorded against longer ones, paired blocks")
    ap.add_argument("--pairs", type=int, default=30, help="with --marginal: pairs of blocks per stream; with "
                    "--interleaved: rounds")
    ap.add_argument("--interleaved", action="store_true",
                    help="our code back to back against between bare SDK calls (--iters calls per block)")
    ap.add_argument("--breakdown", action="store_true",
                    help="what each part of our code costs: with --instructions in instructions, else in CPU time "
                         "back to back (each call without one part)")
    ap.add_argument("--instructions-worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--json", help="also write the figures here")
    args = ap.parse_args()
    if args.instructions_worker:
        return instructions_worker(args)
    import os

    os.environ.setdefault("ANTHROPIC_OPEN_TELEMETRY", "false")
    os.environ.setdefault("OTEL_COT_DETECT", "false")
    if args.cprofile:
        import cProfile
        import pstats

        args.scenarios = args.cprofile
        prof = cProfile.Profile()
        direct(args, prof)
        pstats.Stats(prof).sort_stats(os.environ.get("SDK_PROFILE_SORT", "tottime")).print_stats(int(os.environ.get("SDK_PROFILE_TOP", "40")))
        return
    out = (instructions(args) if args.instructions else marginal(args) if args.marginal else e2e(args) if args.e2e
           else interleaved(args) if args.interleaved else time_breakdown(args) if args.breakdown else direct(args))
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
