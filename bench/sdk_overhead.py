"""Per-call cost of otel-cot against the bare SDK and the peer instrumentations, side by side.

    python bench/sdk_overhead.py [--rounds 5] [--iters 200] [--variants bare,otel-cot,...]
    python bench/sdk_overhead.py --quick        # smoke mode: bare + otel-cot, few calls, no venvs

Recorded provider responses (tests/fixtures/providers/) are served by a small threaded HTTP server on
loopback (in this process); every variant runs the real openai / anthropic SDK against it in its own
process. Variants:

  bare           the SDK, a TracerProvider installed, nothing instrumented
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
peer pays for a second span; otel-cot suppresses that span anyway). Processes are interleaved: each
round starts one process per variant in a shuffled order, and inside a process the scenarios are
interleaved call by call. Timing pass: perf_counter_ns around one whole call (streams: create + iterate to
the end). Allocation pass: a separate process per variant with tracemalloc on, peak bytes above the
pre-call level per call.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "providers"

SCENARIOS = {
    "openai.chat": ("openai", "chat", "openai/chat-nostream--chat_completion_tool_calls_with_content--otel-contrib-i0.json"),
    "openai.chat.stream": ("openai", "chat",
                           "openai/chat-stream--chat_completion_multiple_tools_streaming_with_content--otel-contrib.json"),
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
LOCAL = {"bare": ("openai", "anthropic"), "otel-cot": ("openai", "anthropic")}


def load(scenario: str) -> dict:
    return json.loads((FIXTURES / SCENARIOS[scenario][2]).read_text())


def chunks(scenario: str) -> int:
    """Events the SDK yields for a streamed scenario (SSE events with data, [DONE] excluded)."""
    sse = load(scenario)["response"].get("sse")
    if not sse:
        return 0
    return sum(1 for event in sse.split("\n\n") if "data:" in event and "[DONE]" not in event)


# --------------------------------------------------------------------------------------------- server

def serve() -> ThreadingHTTPServer:
    replies = {}
    for name in SCENARIOS:
        response = load(name)["response"]
        if response.get("sse") is not None:
            replies[name] = (response["status"], "text/event-stream; charset=utf-8", response["sse"].encode())
        else:
            replies[name] = (response["status"], "application/json", json.dumps(response["body"]).encode())

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers.get("content-length") or 0))
            status, ctype, body = replies[self.path.split("/")[1]]
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
    if variant == "bare":
        return
    if variant == "otel-cot":
        import otel_cot

        otel_cot.init(tracer_provider=provider, capture_content=True, instrument=["openai", "anthropic"])
        return
    if variant == "otel-official":
        from opentelemetry.instrumentation.genai.anthropic import AnthropicInstrumentor
        from opentelemetry.instrumentation.genai.openai import OpenAIInstrumentor

        OpenAIInstrumentor().instrument(tracer_provider=provider)
        AnthropicInstrumentor().instrument(tracer_provider=provider)
        return
    if variant == "openllmetry":
        from opentelemetry.instrumentation.anthropic import AnthropicInstrumentor
        from opentelemetry.instrumentation.openai import OpenAIInstrumentor

        OpenAIInstrumentor().instrument(tracer_provider=provider)
        AnthropicInstrumentor().instrument(tracer_provider=provider)
        return
    if variant == "openinference":
        from openinference.instrumentation.anthropic import AnthropicInstrumentor
        from openinference.instrumentation.openai import OpenAIInstrumentor

        OpenAIInstrumentor().instrument(tracer_provider=provider)
        AnthropicInstrumentor().instrument(tracer_provider=provider)
        return
    raise SystemExit(f"unknown variant {variant}")


def worker(args: argparse.Namespace) -> None:
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

    class NoopExporter(SpanExporter):
        spans = 0
        text = 0  # bytes of string attributes (span + events), counted in the allocation pass only

        def export(self, spans):
            NoopExporter.spans += len(spans)
            if args.alloc:
                for span in spans:
                    attrs = [span.attributes or {}] + [e.attributes or {} for e in span.events]
                    NoopExporter.text += sum(len(v) for a in attrs for v in a.values() if isinstance(v, str))
            return SpanExportResult.SUCCESS

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(NoopExporter()))
    trace.set_tracer_provider(provider)
    _instrument(args.worker, provider)

    import anthropic
    import openai

    base = f"http://127.0.0.1:{args.port}"
    calls = {}
    for name in args.scenarios.split(","):
        sdk, api, _ = SCENARIOS[name]
        body = load(name)["request"]["body"]
        stream = bool(body.get("stream"))
        if sdk == "openai":
            client = openai.OpenAI(api_key="sk-bench", base_url=f"{base}/{name}/v1", max_retries=0)
            create = client.chat.completions.create if api == "chat" else client.responses.create
        else:
            client = anthropic.Anthropic(api_key="sk-bench", base_url=f"{base}/{name}", max_retries=0)
            create = client.messages.create

        def call(create=create, body=body, stream=stream):
            result = create(**body)
            if stream:
                for _ in result:
                    pass
            return result

        calls[name] = call

    names = list(calls)
    for _ in range(args.warmup):
        for name in names:
            calls[name]()
    samples: dict[str, list[int]] = {name: [] for name in names}
    clock = time.perf_counter_ns
    if args.alloc:
        import tracemalloc

        tracemalloc.start()
        for _ in range(args.iters):
            for name in names:
                before = tracemalloc.get_traced_memory()[0]
                tracemalloc.reset_peak()
                calls[name]()
                samples[name].append(tracemalloc.get_traced_memory()[1] - before)
        tracemalloc.stop()
    else:
        for _ in range(args.iters):
            for name in names:
                t = clock()
                calls[name]()
                samples[name].append(clock() - t)
    provider.force_flush()
    versions = {}
    for module in ("openai", "anthropic", "opentelemetry.sdk.version", "pydantic", "wrapt"):
        try:
            mod = __import__(module, fromlist=["__version__"])
            versions[module] = getattr(mod, "__version__", "?")
        except Exception:  # noqa: BLE001
            pass
    print(json.dumps({"variant": args.worker, "samples": samples, "spans": NoopExporter.spans,
                      "text_bytes": NoopExporter.text, "versions": versions}))


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


def run_worker(python: str, variant: str, scenarios: list[str], port: int, iters: int, warmup: int,
               alloc: bool, env_extra: dict[str, str]) -> dict:
    env = dict(os.environ)
    env.update({"PYTHONPATH": str(ROOT), "ANTHROPIC_OPEN_TELEMETRY": "false", "OTEL_COT_DETECT": "false",
                "OTEL_SDK_DISABLED": "false", "OTEL_TRACES_EXPORTER": "none", "OTEL_METRICS_EXPORTER": "none",
                "OTEL_LOGS_EXPORTER": "none", "NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1"})
    env.update(env_extra)
    cmd = [python, str(Path(__file__).resolve()), "--worker", variant, "--port", str(port),
           "--scenarios", ",".join(scenarios), "--iters", str(iters), "--warmup", str(warmup)]
    if alloc:
        cmd.append("--alloc")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=str(ROOT))
    if proc.returncode != 0:
        raise RuntimeError(f"{variant} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="smoke mode: bare + otel-cot, few calls, no venvs")
    ap.add_argument("--variants", default="bare,otel-cot,otel-official,openllmetry,openinference")
    ap.add_argument("--scenarios", default=",".join(SCENARIOS))
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--iters", type=int, default=200, help="calls per scenario per process")
    ap.add_argument("--warmup", type=int, default=30)
    ap.add_argument("--alloc-iters", type=int, default=40)
    ap.add_argument("--json", help="also write the raw results here")
    ap.add_argument("--seed", type=int, default=1)
    # worker mode (internal)
    ap.add_argument("--worker")
    ap.add_argument("--port", type=int)
    ap.add_argument("--alloc", action="store_true")
    args = ap.parse_args()
    if args.worker:
        return worker(args)

    if args.quick:
        args.variants, args.rounds, args.iters, args.warmup, args.alloc_iters = "bare,otel-cot", 1, 5, 2, 3
    variants = args.variants.split(",")
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
    rnd = random.Random(args.seed)
    times: dict[str, dict[str, list[int]]] = {v: {s: [] for s in covered(v)} for v in variants}
    rounds: dict[str, dict[str, list[float]]] = {v: {s: [] for s in covered(v)} for v in variants}  # per process
    allocs: dict[str, dict[str, list[int]]] = {v: {s: [] for s in covered(v)} for v in variants}
    spans: dict[str, int] = {v: 0 for v in variants}
    text: dict[str, tuple] = {}
    started = time.time()
    try:
        for r in range(args.rounds):
            order = variants[:]
            rnd.shuffle(order)
            for v in order:
                out = run_worker(pythons[v], v, covered(v), port, args.iters, args.warmup, False, envs[v])
                for s, xs in out["samples"].items():
                    times[v][s].extend(xs)
                    rounds[v][s].append(statistics.median(xs))
                spans[v] += out["spans"]
                versions.setdefault(v, out["versions"])
            print(f"[sdk_overhead] round {r + 1}/{args.rounds} done ({time.time() - started:.0f} s)", file=sys.stderr)
        order = variants[:]
        rnd.shuffle(order)
        for v in order:
            out = run_worker(pythons[v], v, covered(v), port, args.alloc_iters, args.warmup, True, envs[v])
            for s, xs in out["samples"].items():
                allocs[v][s].extend(xs)
            text[v] = (out["text_bytes"], out["spans"])
    finally:
        server.shutdown()

    print(f"# SDK overhead: {platform.python_implementation()} {platform.python_version()}, "
          f"{os.cpu_count()} CPUs, {platform.platform()}")
    print(f"# {args.rounds} rounds x {args.iters} calls per scenario per variant; alloc pass {args.alloc_iters} calls")
    print(f"# spans exported per variant: {json.dumps(spans)}")
    print("# string attribute bytes per exported span (alloc pass; shows content capture is on): "
          + json.dumps({v: round(b / max(n, 1)) for v, (b, n) in text.items()}))
    for v, ver in versions.items():
        print(f"# {v}: {json.dumps(ver)}")
    print()
    header = ("| scenario | chunks | variant | median µs | p99 µs | overhead µs | × bare | "
              "our overhead / theirs | µs per chunk | peak alloc KiB |")
    print(header)
    print("|---" * 10 + "|")
    results = {}
    for s in scenarios:
        n = chunks(s)
        bare = statistics.median(times["bare"][s]) / 1000 if "bare" in times and s in times["bare"] else None
        ours = None
        rows = {}
        for v in variants:
            if s not in times[v] or not times[v][s]:
                continue
            med = statistics.median(times[v][s]) / 1000
            p99 = pct(times[v][s], 0.99) / 1000
            over = med - bare if bare is not None else None
            alloc = statistics.median(allocs[v][s]) / 1024 if allocs[v].get(s) else None
            rows[v] = dict(median_us=med, p99_us=p99, overhead_us=over, alloc_kib=alloc)
            if v == "otel-cot":
                ours = over
        for v, row in rows.items():
            over = row["overhead_us"]
            ratio = ""
            if v not in ("bare", "otel-cot") and ours is not None and over:
                ratio = f"{ours / over:.2f}" if over > 0 else "n/a (≤0)"
            per_chunk = f"{over / n:.2f}" if n and over is not None and v != "bare" else ""
            times_x = "" if bare is None else f"{row['median_us'] / bare:.2f}"
            over_s = "" if v == "bare" or over is None else f"{over:+.0f}"
            alloc_s = "" if row["alloc_kib"] is None else f"{row['alloc_kib']:.0f}"
            print(f"| {s} | {n or ''} | {v} | {row['median_us']:.0f} | {row['p99_us']:.0f} | {over_s} | "
                  f"{times_x} | {ratio} | {per_chunk} | {alloc_s} |")
            row["chunks"] = n
            if v != "bare" and "bare" in rounds and rounds["bare"].get(s):
                # Paired by round: this variant's process median minus bare's in the same round. The spread
                # across rounds shows how far one process's speed moves the figure on this machine.
                paired = [(x - b) / 1000 for x, b in zip(rounds[v][s], rounds["bare"][s])]
                row["paired_overhead_us"] = statistics.median(paired)
                row["paired_overhead_range_us"] = [min(paired), max(paired)]
        results[s] = rows
    print()
    print("Paired by round (variant process median - bare process median of the same round), µs: "
          "median [min, max] over rounds; ratio = otel-cot / variant per round, median [min, max]")
    for s, rows in results.items():
        ours = rows.get("otel-cot", {})
        cells = []
        for v, row in rows.items():
            if "paired_overhead_us" not in row:
                continue
            lo, hi = row["paired_overhead_range_us"]
            cell = f"{v} {row['paired_overhead_us']:+.0f} [{lo:+.0f}, {hi:+.0f}]"
            if v != "otel-cot" and "paired_overhead_us" in ours:
                ratios = [(o - b) / (x - b) for o, x, b in zip(rounds["otel-cot"][s], rounds[v][s], rounds["bare"][s])
                          if x != b]
                if ratios:
                    row["paired_ratio"] = statistics.median(ratios)
                    row["paired_ratio_range"] = [min(ratios), max(ratios)]
                    cell += f" ratio {statistics.median(ratios):.2f} [{min(ratios):.2f}, {max(ratios):.2f}]"
            cells.append(cell)
        print(f"# {s}: " + "; ".join(cells))
    if args.json:
        Path(args.json).write_text(json.dumps({"results": results, "versions": versions, "spans": spans,
                                               "rounds": args.rounds, "iters": args.iters}, indent=1))


if __name__ == "__main__":
    main()
