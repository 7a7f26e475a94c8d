"""Per-call cost of otel-cot against the bare SDK and the peer instrumentations, side by side, in CPU time.

    python bench/sdk_overhead.py [--rounds 6] [--blocks 8] [--block-ms 100] [--variants bare,otel-cot,...]
    python bench/sdk_overhead.py --instructions      # instructions per call under callgrind instead
    python bench/sdk_overhead.py --compare DIR       # also otel-cot from another checkout, as otel-cot-base
    python bench/sdk_overhead.py --quick             # smoke mode: bare + otel-cot, few calls, no venvs

Recorded provider responses (tests/fixtures/providers/) are served by a small threaded HTTP server on
loopback (in this process); every variant runs the real openai / anthropic SDK against it in its own
process. Variants:

  bare           nothing instrumented on either side: the control (its "overhead" shows the noise)
  otel-cot       otel_cot.init(tracer_provider=..., capture_content=True)
  otel-official  opentelemetry-instrumentation-genai-openai + -anthropic (OpenTelemetry contrib; the
                 successor of opentelemetry-instrumentation-openai-v2, which no longer imports)
  openllmetry    opentelemetry-instrumentation-openai + -anthropic (Traceloop)
  openinference  openinference-instrumentation-openai + -anthropic (Arize)

The peers register entry points, so each gets its own virtualenv under
${OTEL_COT_BENCH_DIR:-~/.cache/otel-cot/bench-venvs}, created here with `python -m venv` + pip, with
the same openai / anthropic / opentelemetry-sdk versions as this environment where pip can resolve them.
bare and otel-cot run with this interpreter (PYTHONPATH=repo).

Everyone: one BatchSpanProcessor over a no-op SpanExporter, content capture on (each peer's own switch),
ANTHROPIC_OPEN_TELEMETRY=false (the anthropic SDK's own spans are off, so bare is uninstrumented and no
peer pays for a second span; otel-cot suppresses that span anyway).

What is measured: process CPU time (``time.process_time_ns``: every thread of the process, so the batch
processor's thread counts) per call, in blocks, each instrumented block paired with a bare block of the
same process right next to it. On a shared machine a process's CPU time per call moves by 10-50% with
the load (other processes evict its caches; a virtual CPU's stolen time can count as its own), far more
than the differences being measured, and the load changes from one process to the next; two blocks
measured back to back in one process see nearly the same conditions, so their difference keeps the
instrumentation's cost and loses most of the noise. Each process (one per variant per round, the order
shuffled each round) instruments once and then switches the instrumentation on and off between blocks by
putting back the SDK attributes the instrumentation replaced (not with ``uninstrument()``: OpenLLMetry 0.62's
leaves its wrappers in place, so instrumenting again would stack a second layer; the bench prints the spans
the bare blocks exported, which must be 0): per scenario, ``--blocks`` pairs, the two halves of
a pair in alternating order, the scenarios in a new shuffled order each time. A block is one untimed call
after the switch, then as many calls as fill about ``--block-ms`` of CPU (sized in the warm-up), then
``force_flush`` of the span processor inside the block's CPU window, so the spans' export is charged to
the block that made them. The overhead of a variant is the median over all its pairs of (instrumented
block - bare block) per call; the spread shown is the median of each round's pairs, min/median/max over
rounds, and a bootstrap interval of the ratio to the cheapest peer. Wall time per call (perf_counter_ns
around each call) is reported beside it, paired the same way, for reference only.

--instructions counts instructions per call instead, under valgrind's callgrind (each scenario's bare
and instrumented calls in one process, inside ``operator.call`` so that only they are counted): slow, but
independent of the load. Allocation: a separate process per variant with tracemalloc on, peak bytes above
the pre-call level per call.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import threading
import time
from typing import Any
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "providers"

SCENARIOS = {
    "openai.chat": ("openai", "chat", "openai/chat-nostream--chat_completion_tool_calls_with_content--otel-contrib-i0.json"),
    "openai.chat.stream": ("openai", "chat",
                           "openai/chat-stream--chat_completion_multiple_tools_streaming_with_content--otel-contrib.json"),
    "openai.chat.stream.reasoning": ("openai", "chat",
                                     "openai-compatible/chat-stream--deepseek_streamed_reasoning_content--dd-trace-py.json"),
    "openai.responses": ("openai", "responses",
                         "openai/responses-nostream--call_with_thinking__openai_gpt_5_responses__sync--mirascope-i0.json"),
    "openai.responses.stream": ("openai", "responses",
                                "openai/responses-stream--call_with_thinking__openai_gpt_5_responses__stream--mirascope-i0.json"),
    "anthropic.messages": ("anthropic", "messages",
                           "anthropic/messages-nostream--call_with_thinking__anthropic_claude_sonnet_4_0__sync--mirascope-i0.json"),
    "anthropic.messages.stream": ("anthropic", "messages",
                                  "anthropic/messages-stream--call_with_thinking__anthropic_claude_sonnet_4_0__stream--mirascope-i0.json"),
}

# name -> (pip requirements beyond the SDKs, scenario prefixes covered, content-capture environment)
PEERS = {
    # OpenTelemetry's official GenAI instrumentations (contrib), under their current names. The older
    # opentelemetry-instrumentation-openai-v2 (2.4b0, the latest) no longer imports: it needs
    # opentelemetry.util.genai.instruments, which opentelemetry-util-genai 1.3b0 renamed, and httpx, which
    # openai 3.x dropped; the same code lives on as opentelemetry-instrumentation-genai-openai.
    "otel-official": (["opentelemetry-instrumentation-genai-openai", "opentelemetry-instrumentation-genai-anthropic"],
                      ("openai", "anthropic"), {"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "span_only",
                                                "OTEL_SEMCONV_STABILITY_OPT_IN": "gen_ai_latest_experimental"}),
    "openllmetry": (["opentelemetry-instrumentation-openai", "opentelemetry-instrumentation-anthropic"],
                    ("openai", "anthropic"), {"TRACELOOP_TRACE_CONTENT": "true"}),
    "openinference": (["openinference-instrumentation-openai", "openinference-instrumentation-anthropic"],
                      ("openai", "anthropic"), {"OPENINFERENCE_HIDE_INPUTS": "false", "OPENINFERENCE_HIDE_OUTPUTS": "false",
                                                "OPENINFERENCE_HIDE_INPUT_MESSAGES": "false",
                                                "OPENINFERENCE_HIDE_OUTPUT_MESSAGES": "false"}),
}
LOCAL = {"bare": ("openai", "anthropic"), "otel-cot": ("openai", "anthropic"), "otel-cot-base": ("openai", "anthropic")}
"""Variants run with this interpreter; otel-cot-base is otel-cot from the tree given to --compare."""


def load(scenario: str) -> dict:
    return json.loads((FIXTURES / SCENARIOS[scenario][2]).read_text())


def request_kwargs(scenario: str, create) -> dict:
    """The recorded request body as keyword arguments of ``create`` (provider extras go in ``extra_body``)."""
    from tests.support.calls import kwargs_for

    return kwargs_for(create, dict(load(scenario)["request"]["body"]))


def chunks(scenario: str) -> int:
    """Events the SDK yields for a streamed scenario (SSE events with data, [DONE] excluded)."""
    sse = load(scenario)["response"].get("sse")
    if not sse:
        return 0
    return sum(1 for event in sse.split("\n\n") if "data:" in event and "[DONE]" not in event)


# --------------------------------------------------------------------------------------------- server

def response_id(response: dict) -> str:
    """The id of a recorded response: the body's, or for a stream the first event's (or its response's / message's)."""
    if response.get("sse") is None:
        return response["body"]["id"]
    first = next(event for event in response["sse"].split("\n\n") if "data:" in event)
    data = json.loads(first.split("data:", 1)[1])
    return data.get("id") or (data.get("response") or data.get("message"))["id"]


def serve() -> ThreadingHTTPServer:
    """Replays each scenario's recorded response, with a new response id each time.

    Every call gets its own id, of the recorded id's length (its last 8 characters replaced by a hex
    counter), everywhere the recorded id occurs: a peer that keys its state on the response id
    (OpenLLMetry's Responses instrumentation merges a response into the one of the same id seen before and
    exports no new span for it) does its per-call work, and the SDK parses the same number of bytes.
    """
    replies = {}
    for name in SCENARIOS:
        response = load(name)["response"]
        if response.get("sse") is not None:
            ctype, body = "text/event-stream; charset=utf-8", response["sse"].encode()
        else:
            ctype, body = "application/json", json.dumps(response["body"]).encode()
        recorded = response_id(response).encode()
        if len(recorded) < 9 or recorded not in body:
            raise SystemExit(f"{name}: cannot vary the response id {recorded!r}")
        replies[name] = (response["status"], ctype, body.split(recorded), recorded[:-8], itertools.count())

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Nagle off: the body's write would otherwise wait for the client's delayed ACK of the headers
        # (~40 ms on Linux), idle time that only stretches the run.
        disable_nagle_algorithm = True

        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers.get("content-length") or 0))
            status, ctype, pieces, stem, counter = replies[self.path.split("/")[1]]
            body = (stem + b"%08x" % (next(counter) & 0xFFFFFFFF)).join(pieces)
            self.send_response(status)
            self.send_header("content-type", ctype)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


# --------------------------------------------------------------------------------------------- worker

def _instrument(variant: str, provider) -> None:
    """Switch the variant's instrumentation on (once: see ``_switch``)."""
    if variant == "bare":
        return
    if variant in ("otel-cot", "otel-cot-base"):
        import otel_cot

        otel_cot.init(tracer_provider=provider, capture_content=True, instrument=["openai", "anthropic"])
        return
    if variant == "otel-official":
        from opentelemetry.instrumentation.genai.anthropic import AnthropicInstrumentor
        from opentelemetry.instrumentation.genai.openai import OpenAIInstrumentor
    elif variant == "openllmetry":
        from opentelemetry.instrumentation.anthropic import AnthropicInstrumentor
        from opentelemetry.instrumentation.openai import OpenAIInstrumentor
    elif variant == "openinference":
        from openinference.instrumentation.anthropic import AnthropicInstrumentor
        from openinference.instrumentation.openai import OpenAIInstrumentor
    else:
        raise SystemExit(f"unknown variant {variant}")
    OpenAIInstrumentor().instrument(tracer_provider=provider)
    AnthropicInstrumentor().instrument(tracer_provider=provider)


_PATCHED_PACKAGES = ("openai", "anthropic", "httpx2", "httpcore2")


def _attributes() -> dict[tuple[int, str], tuple[Any, str, Any]]:
    """Every attribute of the SDKs' modules and of the classes they define: (owner id, name) -> (owner, name, value)."""
    out = {}
    for name, module in list(sys.modules.items()):
        if module is None or name.split(".")[0] not in _PATCHED_PACKAGES:
            continue
        for attribute, value in list(vars(module).items()):
            out[(id(module), attribute)] = (module, attribute, value)
            if isinstance(value, type) and value.__module__ == name:
                for class_attribute, class_value in list(vars(value).items()):
                    out[(id(value), class_attribute)] = (value, class_attribute, class_value)
    return out


def _switch(variant: str, provider) -> tuple:
    """(on, off): the variant's patches to the SDKs put back and taken away, in this process.

    Instruments once, with each attribute of the SDKs' modules and classes recorded before and after; the
    switch sets the ones that changed to their value after (on) or before (off). Not the instrumentors' own
    ``uninstrument()``: OpenLLMetry 0.62's leaves its wrappers in place, and instrumenting again wraps them
    once more. The SDKs' modules the calls need are imported (by a first call) before the record.
    """
    before = _attributes()
    _instrument(variant, provider)
    after = _attributes()
    owners = {key[0] for key in before}
    # Attributes replaced or added (wrapt adds an inherited method to the class it wraps it on), callables only:
    # those the classes fill in lazily on first use (pydantic's __signature__, ...) are not the instrumentation's.
    absent = object()
    changed = [(entry[0], entry[1], before[key][2] if key in before else absent, entry[2])
               for key, entry in after.items()
               if key[0] in owners and before.get(key, (None, None, absent))[2] is not entry[2] and callable(entry[2])
               and not entry[1].startswith("__pydantic") and entry[1] != "__signature__"]
    if os.environ.get("SDK_OVERHEAD_SHOW_PATCHES"):
        print(variant, sorted(f"{getattr(o, '__qualname__', getattr(o, '__name__', o))}.{n}" for o, n, _, _ in changed),
              file=sys.stderr)

    def put(index: int) -> None:
        for change in changed:
            if change[index] is absent:
                if change[1] in vars(change[0]):
                    delattr(change[0], change[1])
            else:
                setattr(change[0], change[1], change[index])

    return (lambda: put(3)), (lambda: put(2))


def _calls(scenarios: list[str], port: int) -> dict:
    """One function per scenario that makes its call with the real SDK (streams: read to the end)."""
    import anthropic
    import openai

    base = f"http://127.0.0.1:{port}"
    calls = {}
    for name in scenarios:
        sdk, api, _ = SCENARIOS[name]
        if sdk == "openai":
            client = openai.OpenAI(api_key="sk-bench", base_url=f"{base}/{name}/v1", max_retries=0)
            resource = client.chat.completions if api == "chat" else client.responses
        else:
            client = anthropic.Anthropic(api_key="sk-bench", base_url=f"{base}/{name}", max_retries=0)
            resource = client.messages
        kwargs = request_kwargs(name, resource.create)

        # Looked up at each call: instrumenting wraps the class's method.
        def call(resource=resource, kwargs=kwargs, stream=bool(kwargs.get("stream"))):
            result = resource.create(**kwargs)
            if stream:
                for _ in result:
                    pass
            return result

        calls[name] = call
    return calls


def spans_per_call(calls: dict, provider, exporter, on, off, n: int = 4) -> dict[str, list[float]]:
    """Per scenario, [model-call spans, all spans] exported per call over ``n`` instrumented calls.

    A model-call span is a span without a parent (the calls run outside any span): each instrumented variant
    must export exactly one per call, or it is not doing the per-call work the bench means to time.
    """
    out = {}
    for name, call in calls.items():
        on()
        provider.force_flush()
        roots, spans = exporter.roots, exporter.spans
        for _ in range(n):
            call()
        provider.force_flush()
        out[name] = [(exporter.roots - roots) / n, (exporter.spans - spans) / n]
        off()
    return out


def gc_time(cpu) -> list[int]:
    """A one-item list that the garbage collector's callbacks keep adding its CPU time (ns) to."""
    import gc

    total, started = [0], [0]

    def callback(phase: str, info: dict) -> None:
        if phase == "start":
            started[0] = cpu()
        else:
            total[0] += cpu() - started[0]

    gc.callbacks.append(callback)
    return total


def worker(args: argparse.Namespace) -> None:
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

    class NoopExporter(SpanExporter):
        spans = 0
        roots = 0  # spans without a parent: one per call (the model-call span; the calls run outside any span)
        text = 0  # bytes of string attributes (span + events), counted in the allocation pass only

        def export(self, spans):
            NoopExporter.spans += len(spans)
            NoopExporter.roots += sum(1 for span in spans if span.parent is None)
            if args.alloc:
                for span in spans:
                    attrs = [span.attributes or {}] + [e.attributes or {} for e in span.events]
                    NoopExporter.text += sum(len(v) for a in attrs for v in a.values() if isinstance(v, str))
            return SpanExportResult.SUCCESS

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(NoopExporter()))
    trace.set_tracer_provider(provider)
    calls = _calls(args.scenarios.split(","), args.port)
    names = list(calls)
    for name in names:  # imports whatever the calls need, before the SDKs' attributes are recorded
        calls[name]()
    on, off = _switch(args.worker, provider)
    per_call = spans_per_call(calls, provider, NoopExporter, on, off)
    if args.worker != "bare" and any(roots != 1 for roots, _ in per_call.values()):
        raise SystemExit(f"{args.worker}: not one model-call span per call: {json.dumps(per_call)}")
    if args.instructions:
        return instructions_worker(calls, provider, on, off, args.warmup)

    cpu, clock = time.process_time_ns, time.perf_counter_ns
    block_calls = {}
    for name in names:  # warm up both ways, and size the blocks: about --block-ms of CPU each
        for switch in (on, off):
            switch()
            for _ in range(args.warmup):
                calls[name]()
        c = cpu()
        for _ in range(3):
            calls[name]()
        block_calls[name] = max(2, round(args.block_ms * 1e6 * 3 / max(cpu() - c, 1)))
    provider.force_flush()

    result: dict = {"variant": args.worker, "block_calls": block_calls, "spans_per_call": per_call}
    if args.alloc:
        import tracemalloc

        on()
        allocs: dict[str, list[int]] = {name: [] for name in names}
        tracemalloc.start()
        for _ in range(args.iters):
            for name in names:
                before = tracemalloc.get_traced_memory()[0]
                tracemalloc.reset_peak()
                calls[name]()
                allocs[name].append(tracemalloc.get_traced_memory()[1] - before)
        tracemalloc.stop()
        provider.force_flush()
        result.update(allocs=allocs, spans=NoopExporter.spans, text_bytes=NoopExporter.text)
        print(json.dumps(result))
        return

    gc_ns = gc_time(cpu) if args.gc_time else [0]
    # Per scenario and side ("bare", "on"): CPU ns per call and GC ns per call, one entry per block (pairs line up);
    # wall ns of every call.
    blocks = {side: {name: [] for name in names} for side in ("bare", "on")}
    gcs = {side: {name: [] for name in names} for side in ("bare", "on")}
    wall = {side: {name: [] for name in names} for side in ("bare", "on")}
    rnd = random.Random(args.seed)
    bare_spans = 0  # spans exported by bare blocks: none, or the switch did not switch the variant off
    for b in range(args.blocks):
        rnd.shuffle(names)
        for name in names:
            call, n = calls[name], block_calls[name]
            for side in (("bare", "on") if (b + names.index(name)) % 2 else ("on", "bare")):
                (on if side == "on" else off)()
                provider.force_flush()
                exported = NoopExporter.spans
                call()  # untimed: whatever the switch left to do on first use
                provider.force_flush()
                samples = wall[side][name]
                g = gc_ns[0]
                c = cpu()
                for _ in range(n):
                    t = clock()
                    call()
                    samples.append(clock() - t)
                provider.force_flush()  # the export of this block's spans is charged to this block
                blocks[side][name].append((cpu() - c) / n)
                gcs[side][name].append((gc_ns[0] - g) / n)
                if side == "bare":
                    bare_spans += NoopExporter.spans - exported
    off()
    result.update(cpu_blocks=blocks, gc_blocks=gcs, wall=wall, spans=NoopExporter.spans, bare_spans=bare_spans,
                  versions=_versions())
    print(json.dumps(result))


def _versions() -> dict[str, str]:
    versions = {}
    for module in ("openai", "anthropic", "opentelemetry.sdk.version", "pydantic", "wrapt"):
        try:
            mod = __import__(module, fromlist=["__version__"])
            versions[module] = getattr(mod, "__version__", "?")
        except Exception:  # noqa: BLE001
            pass
    return versions


def instruction_calls(scenario: str) -> int:
    """Calls per scenario under callgrind: the count per call barely varies, so a few suffice."""
    n = chunks(scenario)
    return 20 if not n else max(3, 200 // n)


def instructions_worker(calls: dict, provider, on, off, warmup: int) -> None:
    """Per scenario, its bare calls then its instrumented calls, each inside ``operator.call``: the parent's
    callgrind counts only in there and writes one dump per ``operator.call`` (--toggle-collect /
    --dump-after), in the order printed."""
    import operator

    def block(call, n: int) -> None:
        for _ in range(n):
            call()
        provider.force_flush()

    order = []
    for name, call in calls.items():
        for side, switch in (("bare", off), ("on", on)):
            switch()
            for _ in range(warmup):
                call()
            provider.force_flush()
            operator.call(block, call, instruction_calls(name))
            order.append([name, side])
    off()
    print(json.dumps({"order": order}))


# --------------------------------------------------------------------------------------------- venvs

def venv_dir() -> Path:
    return Path(os.environ.get("OTEL_COT_BENCH_DIR") or Path.home() / ".cache" / "otel-cot" / "bench-venvs")


def peer_python(name: str) -> str:
    """The venv interpreter for a peer, created and installed on first use."""
    import importlib.metadata as md

    venv = venv_dir() / name
    python = venv / "bin" / "python"
    stamp = venv / ".installed"
    requirements = PEERS[name][0]
    sdks = [f"openai=={md.version('openai')}", f"anthropic=={md.version('anthropic')}"]
    # Every package the peer shares with us (pydantic, wrapt, httpx2, the OTel SDK, ...) pinned to the version
    # installed here, so the SDK under test runs the same code in every process; unpinned only if pip cannot.
    freeze = subprocess.run([sys.executable, "-m", "pip", "freeze", "--disable-pip-version-check"],
                            capture_output=True, text=True, check=True).stdout
    pins = "".join(line + "\n" for line in freeze.splitlines()
                   if "==" in line and not line.startswith(("-e", "otel-cot", "otel_cot")))
    want = " ".join(sdks + requirements) + "\n" + pins
    if stamp.exists() and stamp.read_text() == want:
        return str(python)
    print(f"[sdk_overhead] creating {venv}", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    constraints = venv / "constraints.txt"
    constraints.write_text(pins)
    pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    if subprocess.run(pip + ["-c", str(constraints)] + sdks + ["opentelemetry-sdk"] + requirements).returncode != 0:
        print(f"[sdk_overhead] {name}: cannot pin to this environment's versions; installing unpinned",
              file=sys.stderr)
        subprocess.run(pip + sdks + ["opentelemetry-sdk"] + requirements, check=True)
    stamp.write_text(want)
    return str(python)


def installed(python: str, names: list[str]) -> dict[str, str]:
    code = ("import importlib.metadata as m, json, sys; "
            "print(json.dumps({n: m.version(n) for n in sys.argv[1:]}))")
    out = subprocess.run([python, "-c", code, *names], capture_output=True, text=True, check=True).stdout
    return json.loads(out)


# --------------------------------------------------------------------------------------------- parent

def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def spread(values: list[float], fmt: str = "{:.2f}") -> str:
    """min / median / max, for a reader to see whether a figure holds from one round to the next."""
    if not values:
        return ""
    return "/".join(fmt.format(v) for v in (min(values), statistics.median(values), max(values)))


def worker_command(python: str, variant: str, scenarios: list[str], port: int, args: argparse.Namespace,
                   alloc: bool, env_extra: dict[str, str], seed: int) -> tuple[dict[str, str], list[str]]:
    env = dict(os.environ)
    env.update({"PYTHONPATH": str(args.compare if variant == "otel-cot-base" else ROOT),
                "ANTHROPIC_OPEN_TELEMETRY": "false", "OTEL_COT_DETECT": "false",
                "OTEL_SDK_DISABLED": "false", "OTEL_TRACES_EXPORTER": "none", "OTEL_METRICS_EXPORTER": "none",
                "OTEL_LOGS_EXPORTER": "none", "NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1"})
    env.update(env_extra)
    cmd = [python, str(Path(__file__).resolve()), "--worker", variant, "--port", str(port),
           "--scenarios", ",".join(scenarios), "--warmup", str(args.warmup), "--seed", str(seed),
           "--blocks", str(args.blocks), "--block-ms", str(args.block_ms), "--iters", str(args.alloc_iters)]
    if alloc:
        cmd.append("--alloc")
    if args.gc_time:
        cmd.append("--gc-time")
    return env, cmd


def run_worker(*args, **kwargs) -> dict:
    env, cmd = worker_command(*args, **kwargs)
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=str(ROOT))
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[3]} failed:\n{proc.stderr[-3000:]}")
    if os.environ.get("SDK_OVERHEAD_SHOW_PATCHES"):
        print(proc.stderr, file=sys.stderr)
    return json.loads(proc.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------------------------- instructions

CALLGRIND = ("valgrind", "--tool=callgrind", "--collect-atstart=no", "--toggle-collect=_operator_call",
             "--dump-after=_operator_call")
"""Counts only inside ``operator.call`` (a C function nothing else here calls) and writes one dump per call."""


def callgrind(cmd: list[str], env: dict[str, str]) -> tuple[dict, list[int]]:
    """Run ``cmd`` under CALLGRIND: (the JSON its last line of output holds, instructions per ``operator.call``)."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="otel_cot_cg") as tmp:
        env = dict(env, PYTHONHASHSEED="0")
        proc = subprocess.run([*CALLGRIND, f"--callgrind-out-file={tmp}/cg.%p", *cmd], capture_output=True,
                              text=True, env=env, cwd=str(ROOT))
        if proc.returncode != 0:
            raise RuntimeError(f"{cmd} under callgrind failed:\n{proc.stderr[-3000:]}")
        dumps = sorted(Path(tmp).glob("cg.*.*"), key=lambda p: int(p.suffix[1:]))
        counts = []
        for dump in dumps:
            totals = next(line for line in dump.read_text().splitlines() if line.startswith("totals:"))
            counts.append(int(totals.split()[1]))
    return json.loads(proc.stdout.strip().splitlines()[-1]), counts


def count_instructions(pythons: dict, envs: dict, variants: list[str], covered, port: int,
                       args: argparse.Namespace) -> dict[str, dict[str, dict[str, float]]]:
    """Instructions per call, per variant, scenario and side (bare / on), under callgrind."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for v in variants:
        started = time.time()
        env, cmd = worker_command(pythons[v], v, covered(v), port, args, False, envs[v], 0)
        order, counts = callgrind(cmd + ["--instructions"], env)
        if len(counts) != len(order["order"]):
            raise RuntimeError(f"{v}: {len(counts)} callgrind dumps for {len(order['order'])} blocks")
        out[v] = {}
        for (name, side), count in zip(order["order"], counts):
            out[v].setdefault(name, {})[side] = count / instruction_calls(name)
        print(f"[sdk_overhead] {v}: counted under callgrind ({time.time() - started:.0f} s)", file=sys.stderr)
    return out


def report_instructions(counts: dict, scenarios: list[str], variants: list[str]) -> dict:
    peers = [v for v in variants if v not in LOCAL]
    others = [v for v in variants if v in LOCAL and v not in ("bare", "otel-cot")]
    shown = [v for v in ["otel-cot"] + others + peers if v in counts]
    print("Instructions per call (callgrind; every thread, inside the measured calls and their flush; "
          "PYTHONHASHSEED=0), thousands: bare (from otel-cot's process), then each variant's overhead "
          "(its instrumented calls minus the bare calls of the same process); ratio = otel-cot's overhead ÷ "
          "the cheapest peer's.")
    print()
    print("| " + " | ".join(["scenario", "bare k"] + shown + ["cheapest peer", "ratio"]) + " |")
    print("|---" * (4 + len(shown)) + "|")
    result = {}
    for s in scenarios:
        over = {v: counts[v][s]["on"] - counts[v][s]["bare"] for v in shown if s in counts[v]}
        if not over:
            continue
        bare = next(counts[v][s]["bare"] for v in shown if s in counts[v])
        theirs = {v: over[v] for v in peers if v in over}
        cheapest = min(theirs, key=theirs.get) if theirs else None
        ratio = over["otel-cot"] / theirs[cheapest] if cheapest and "otel-cot" in over and theirs[cheapest] > 0 else None
        result[s] = {"bare": bare, "overhead": over, "cheapest_peer": cheapest, "ratio": ratio}
        cells = [s, f"{bare / 1000:,.0f}"] + [f"{over[v] / 1000:+,.0f}" if v in over else "" for v in shown]
        cells += [cheapest or "", "" if ratio is None else f"{ratio:.2f}"]
        print("| " + " | ".join(cells) + " |")
    return result


# --------------------------------------------------------------------------------------------- timing report

def bootstrap_ratio(ours: list[float], theirs: list[float], rng: random.Random, n: int = 2000) -> tuple[float, float]:
    """5th and 95th percentiles of median(ours) / median(theirs), resampling each side's pairs."""
    ratios = []
    for _ in range(n):
        t = statistics.median(rng.choices(theirs, k=len(theirs)))
        if t > 0:
            ratios.append(statistics.median(rng.choices(ours, k=len(ours))) / t)
    return (pct(ratios, 0.05), pct(ratios, 0.95)) if ratios else (float("nan"), float("nan"))


def summarise(scenarios: list[str], variants: list[str], runs: dict) -> dict:
    """Per scenario: each variant's paired CPU and wall overheads, and the ratios to the cheapest peer.

    ``runs[v]`` is the list of worker results of variant ``v``, one per round.
    """
    rng = random.Random(0)
    results: dict[str, dict] = {}
    for s in scenarios:
        rows: dict[str, dict] = {}
        bare_cpu: list[float] = []
        for v in variants:
            pairs, rounds, gc_pairs, wall_over, bare_wall = [], [], [], [], []
            for out in runs[v]:
                if s not in out["cpu_blocks"]["on"]:
                    continue
                diffs = [(x - b) / 1000 for x, b in zip(out["cpu_blocks"]["on"][s], out["cpu_blocks"]["bare"][s])]
                pairs += diffs
                rounds.append(statistics.median(diffs))
                gc_pairs += [(x - b) / 1000 for x, b in zip(out["gc_blocks"]["on"][s], out["gc_blocks"]["bare"][s])]
                bare_cpu += [b / 1000 for b in out["cpu_blocks"]["bare"][s]]
                wall_over.append((statistics.median(out["wall"]["on"][s]) - statistics.median(out["wall"]["bare"][s])) / 1000)
                bare_wall.append(statistics.median(out["wall"]["bare"][s]) / 1000)
            if not pairs:
                continue
            rows[v] = {"cpu_overhead_us": statistics.median(pairs), "pairs_us": pairs, "rounds_us": rounds,
                       "gc_overhead_us": statistics.median(gc_pairs),
                       "wall_overhead_us": statistics.median(wall_over), "bare_wall_us": statistics.median(bare_wall)}
        summary: dict = {"bare_cpu_us": statistics.median(bare_cpu) if bare_cpu else None}
        ours = rows.get("otel-cot")
        peers = {v: r for v, r in rows.items() if v not in LOCAL}
        if ours and peers:
            cheapest = min(peers, key=lambda v: peers[v]["cpu_overhead_us"])
            theirs = peers[cheapest]
            summary.update(cheapest_peer=cheapest,
                           ratio=ours["cpu_overhead_us"] / theirs["cpu_overhead_us"] if theirs["cpu_overhead_us"] > 0 else None,
                           ratio_rounds=[o / t for o, t in zip(ours["rounds_us"], theirs["rounds_us"]) if t > 0],
                           ratio_interval=bootstrap_ratio(ours["pairs_us"], theirs["pairs_us"], rng))
            for v, r in peers.items():
                r["ratio_to_this"] = ours["cpu_overhead_us"] / r["cpu_overhead_us"] if r["cpu_overhead_us"] > 0 else None
        base = rows.get("otel-cot-base")
        if ours and base and base["cpu_overhead_us"] > 0:
            summary.update(vs_base=ours["cpu_overhead_us"] / base["cpu_overhead_us"],
                           vs_base_interval=bootstrap_ratio(ours["pairs_us"], base["pairs_us"], rng),
                           saved_rounds_us=[b - o for o, b in zip(ours["rounds_us"], base["rounds_us"])])
        rows["_summary"] = summary
        results[s] = rows
    return results


def report(results: dict, variants: list[str]) -> None:
    peers = [v for v in variants if v not in LOCAL]
    shown = [v for v in ["otel-cot"] + peers + ["bare"] if v in variants]
    print("CPU time per call (process CPU, all threads), µs: bare's own, then each variant's overhead = median over "
          "its pairs of (instrumented block - bare block) per call (bare: bare against bare, the noise floor); "
          "ratio = otel-cot's overhead ÷ the cheapest peer's, with its bootstrap 90% interval and its value round by "
          "round (min/median/max); otel-cot's overhead round by round (min/median/max); per chunk = otel-cot's "
          "overhead ÷ chunks.")
    print()
    print("| " + " | ".join(["scenario", "chunks", "bare µs"] + shown)
          + " | cheapest peer | ratio | 90% interval | per round | otel-cot per round | otel-cot per chunk µs |")
    print("|---" * (9 + len(shown)) + "|")
    for s, rows in results.items():
        n = chunks(s)
        summary = rows["_summary"]
        bare = summary.get("bare_cpu_us")
        cells = [s, str(n or ""), "" if bare is None else f"{bare:,.0f}"]
        cells += [f"{rows[v]['cpu_overhead_us']:+,.0f}" if v in rows else "" for v in shown]
        ratio, interval = summary.get("ratio"), summary.get("ratio_interval")
        ours = rows.get("otel-cot", {})
        cells += [summary.get("cheapest_peer", ""), "" if ratio is None else f"{ratio:.2f}",
                  "" if not interval else f"{interval[0]:.2f}-{interval[1]:.2f}",
                  spread(summary.get("ratio_rounds", [])), spread(ours.get("rounds_us", []), "{:+.0f}"),
                  f"{ours['cpu_overhead_us'] / n:.2f}" if n and ours else ""]
        print("| " + " | ".join(cells) + " |")
    if any("vs_base" in rows["_summary"] for rows in results.values()):
        print()
        print("otel-cot against otel-cot-base (--compare): CPU overhead µs; new ÷ base with its bootstrap 90% interval; "
              "base - new round by round (min/median/max).")
        print()
        print("| scenario | base µs | new µs | new ÷ base | 90% interval | saved per round µs |")
        print("|---" * 6 + "|")
        for s, rows in results.items():
            summary = rows["_summary"]
            if "vs_base" not in summary:
                continue
            lo, hi = summary["vs_base_interval"]
            print(f"| {s} | {rows['otel-cot-base']['cpu_overhead_us']:+,.0f} | {rows['otel-cot']['cpu_overhead_us']:+,.0f} | "
                  f"{summary['vs_base']:.2f} | {lo:.2f}-{hi:.2f} | {spread(summary['saved_rounds_us'], '{:+.0f}')} |")
    print()
    print("Every variant: CPU overhead µs (median of pairs) and round by round (min/median/max), of which garbage "
          "collection (with --gc-time), wall-time overhead (median per call, instrumented - bare, median over "
          "rounds), ratio of otel-cot's CPU overhead to this one's, peak allocation per call.")
    print()
    print("| scenario | variant | CPU overhead µs | per round | GC µs | wall overhead µs | bare wall µs | "
          "otel-cot ÷ this | peak alloc KiB |")
    print("|---" * 9 + "|")
    for s, rows in results.items():
        for v in variants:
            row = rows.get(v)
            if row is None:
                continue
            ratio, alloc = row.get("ratio_to_this"), row.get("alloc_kib")
            print(f"| {s} | {v} | {row['cpu_overhead_us']:+,.0f} | {spread(row['rounds_us'], '{:+.0f}')} | "
                  f"{row['gc_overhead_us']:+.1f} | {row['wall_overhead_us']:+,.0f} | {row['bare_wall_us']:,.0f} | "
                  f"{'' if ratio is None else f'{ratio:.2f}'} | {'' if alloc is None else f'{alloc:.0f}'} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="smoke mode: bare + otel-cot, few calls, no venvs")
    ap.add_argument("--variants", default="bare,otel-cot,otel-official,openllmetry,openinference")
    ap.add_argument("--scenarios", default=",".join(SCENARIOS))
    ap.add_argument("--rounds", type=int, default=6, help="processes per variant")
    ap.add_argument("--blocks", type=int, default=8, help="pairs of blocks per scenario per process")
    ap.add_argument("--block-ms", type=float, default=100, help="CPU per block, about (sets its number of calls)")
    ap.add_argument("--warmup", type=int, default=10, help="calls per scenario and side before measuring")
    ap.add_argument("--alloc-iters", type=int, default=40, help="calls per scenario in the allocation pass")
    ap.add_argument("--gc-time", action="store_true",
                    help="also measure the CPU time spent in the garbage collector (gc.callbacks), per call")
    ap.add_argument("--instructions", action="store_true",
                    help="instead of timing: count instructions per call under valgrind's callgrind, one process "
                         "per variant (load-independent; slow: several minutes per variant)")
    ap.add_argument("--compare", metavar="DIR",
                    help="also run otel-cot from DIR (a checkout of another commit, e.g. from `git archive`) as "
                         "variant otel-cot-base, interleaved with the others")
    ap.add_argument("--json", help="also write the raw results here")
    ap.add_argument("--seed", type=int, default=1)
    # worker mode (internal)
    ap.add_argument("--worker")
    ap.add_argument("--port", type=int)
    ap.add_argument("--iters", type=int)
    ap.add_argument("--alloc", action="store_true")
    args = ap.parse_args()
    if args.worker:
        return worker(args)

    if args.quick:
        args.variants, args.rounds, args.blocks, args.block_ms, args.warmup, args.alloc_iters = (
            "bare,otel-cot", 1, 2, 20, 2, 3)
    variants = args.variants.split(",")
    if args.compare and "otel-cot-base" not in variants:
        variants.insert(variants.index("otel-cot") + 1 if "otel-cot" in variants else len(variants), "otel-cot-base")
    if args.instructions:
        variants = [v for v in variants if v != "bare"]  # each process counts its own bare calls
        if args.warmup == ap.get_default("warmup"):
            args.warmup = 3
    scenarios = args.scenarios.split(",")
    pythons, envs, versions = {}, {}, {}
    for v in variants:
        if v in LOCAL:
            pythons[v], envs[v] = sys.executable, {}
        else:
            pythons[v], envs[v] = peer_python(v), PEERS[v][2]
            versions[v] = installed(pythons[v], [r for r in PEERS[v][0]]
                                    + ["openai", "anthropic", "opentelemetry-sdk", "pydantic", "wrapt"])

    def covered(v: str) -> list[str]:
        providers = LOCAL.get(v) or PEERS[v][1]
        return [s for s in scenarios if any(s == p or s.startswith(p + ".") for p in providers)]

    server = serve()
    port = server.server_address[1]
    started = time.time()
    if args.instructions:
        try:
            counts = count_instructions(pythons, envs, variants, covered, port, args)
        finally:
            server.shutdown()
        print(f"# instructions per call, {time.time() - started:.0f} s; " + "; ".join(
            f"{v}: {json.dumps(ver)}" for v, ver in versions.items()))
        result = report_instructions(counts, scenarios, variants)
        if args.json:
            Path(args.json).write_text(json.dumps({"instructions_per_call": counts, "results": result,
                                                   "versions": versions}, indent=1))
        return

    rnd = random.Random(args.seed)
    runs: dict[str, list[dict]] = {v: [] for v in variants}
    allocs: dict[str, dict] = {}
    loads: list[float] = []
    try:
        for r in range(args.rounds):
            order = variants[:]
            rnd.shuffle(order)
            loads.append(os.getloadavg()[0])
            for v in order:
                out = run_worker(pythons[v], v, covered(v), port, args, False, envs[v], rnd.randrange(1 << 30))
                runs[v].append(out)
                versions.setdefault(v, out["versions"])
            print(f"[sdk_overhead] round {r + 1}/{args.rounds} done ({time.time() - started:.0f} s, "
                  f"load {os.getloadavg()[0]:.2f})", file=sys.stderr)
        loads.append(os.getloadavg()[0])
        for v in variants:
            allocs[v] = run_worker(pythons[v], v, covered(v), port, args, True, envs[v], 0)
    finally:
        server.shutdown()

    print(f"# SDK overhead: {platform.python_implementation()} {platform.python_version()}, "
          f"{os.cpu_count()} CPUs, {platform.platform()}")
    print(f"# {args.rounds} rounds (one process per variant each) x {args.blocks} pairs of blocks of ~{args.block_ms:g} ms "
          f"CPU per scenario; alloc pass {args.alloc_iters} calls; {time.time() - started:.0f} s")
    print("# load average (1 min) at the start of each round and at the end: " + " ".join(f"{x:.2f}" for x in loads))
    print(f"# spans exported per variant (timing runs): {json.dumps({v: sum(o['spans'] for o in runs[v]) for v in variants})}"
          f"; by bare blocks (must be 0): {json.dumps({v: sum(o['bare_spans'] for o in runs[v]) for v in variants})}")
    print("# model-call spans per call (spans without a parent; every instrumented variant must have 1) / all spans "
          "per call, first timing process: " + json.dumps(
              {v: {s: "{:g}/{:g}".format(*c) for s, c in runs[v][0]["spans_per_call"].items()} for v in variants}))
    print("# string attribute bytes per exported span (alloc pass; shows content capture is on): "
          + json.dumps({v: round(a["text_bytes"] / max(a["spans"], 1)) for v, a in allocs.items()}))
    for v, ver in versions.items():
        print(f"# {v}: {json.dumps(ver)}")
    print()
    results = summarise(scenarios, variants, runs)
    for s, rows in results.items():
        for v, row in rows.items():
            if v in allocs and s in allocs[v]["allocs"]:
                row["alloc_kib"] = statistics.median(allocs[v]["allocs"][s]) / 1024
    report(results, variants)
    if args.json:
        Path(args.json).write_text(json.dumps({"results": results, "versions": versions, "rounds": args.rounds,
                                               "blocks": args.blocks, "block_ms": args.block_ms, "loads": loads,
                                               "runs": runs}, indent=1))


if __name__ == "__main__":
    main()
