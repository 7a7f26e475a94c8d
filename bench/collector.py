"""Collector spans/s per core: detectors on vs. off vs. the bare OTLP receive ceiling (protobuf decode only),
memory over a sustained run, and 2 instances behind the OpenTelemetry Collector.

    python bench/collector.py [--requests 60] [--modes decode,decode+walk,off,on,lb] [--quick]
    python bench/collector.py --modes sustained --sustained 600000 [--sample-every 50000]

Same load as collector/bench/throughput.py (requests of 1,000 GenAI tool spans, 6 attributes each, 10 spans
per trace, posted over OTLP/HTTP from 4 threads), into the real collector process, which queues them
durably and exports to a sink in this process:

  decode  ExportTraceServiceRequest.FromString over the same bodies, in this process, one thread: the
          ceiling of any Python OTLP receiver on this machine
  decode+walk  the same, plus every span's attributes read into a dict (what looking at spans costs)
  off     the collector with `detect` removed (and `sampling` / `findings_metrics`, which need it):
          receive, group_by_trace, durable queue, export
  on      the collector as shipped (group_by_trace, detect, sampling, findings_metrics)
  monitor  `on` with the model-based monitor after detect, every trace filed and judged (triggers
          every_trace, no budgets) by a loopback judge (tests/support/judge_server.py) that answers "no
          findings" after --judge-delay seconds (default 2); the judge's process is this one, not counted
  monitor-flagged  the same with the default triggers (only traces a rule flagged; none in this load)
  lb      2 collectors (as `on`) behind one OpenTelemetry Collector (the ocb build of
          scripts/install-otelcol.sh: OTLP in, batch, load_balancing exporter with routing_key traceID, a
          static resolver and a persistent sending queue, as in collector/config/otelcol-front.yaml); the
          load goes into the OpenTelemetry Collector, both collectors export to the same sink. Skipped
          (and said so) when the binary has not been built.
  sustained  the `on` collector under a steady load for --sustained spans (at most --window requests
          not yet at the sink), RSS / CPU / the engine's and grouper's held state every --sample-every spans

"per core" is spans per CPU-second of the otel-cot collector process(es) (utime + stime from /proc), so
the sink, the client threads and the OpenTelemetry Collector, which share the cores, do not count
against it; wall spans/s is given too, with the collector's peak RSS (VmHWM). Every mode checks that
every span arrived at the sink.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "collector" / "bench"))
sys.path.insert(0, str(ROOT / "collector" / "tests"))

from collector_support import Collector, Sink, collector_config, wait_for  # noqa: E402
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest  # noqa: E402
from throughput import post_all, request  # noqa: E402

SPANS_PER_REQUEST = 1000


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _status_mib(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def peak_rss_mib(pid: int) -> float:
    return _status_mib(pid, "VmHWM")


def rss_mib(pid: int) -> float:
    return _status_mib(pid, "VmRSS")


class CountingSink(Sink):
    """A sink that keeps one bit per span instead of the spans (span ids of the load are 1..N): a sustained
    run's sink does not grow with the run. Counts spans that arrived more than once."""

    def __init__(self, total: int) -> None:
        super().__init__()
        self.seen = bytearray(total + 1)
        self.unique = 0
        self.duplicates = 0
        self.unexpected = 0

    def _record(self, signal: str, body: bytes) -> None:
        if signal != "traces":
            return
        req = ExportTraceServiceRequest.FromString(body)
        ids = [int.from_bytes(span.span_id, "big") for rs in req.resource_spans for ss in rs.scope_spans
               for span in ss.spans]
        with self.lock:
            self.requests += 1
            for sid in ids:
                if 0 < sid < len(self.seen):
                    if self.seen[sid]:
                        self.duplicates += 1
                    else:
                        self.seen[sid] = 1
                        self.unique += 1
                else:
                    self.unexpected += 1

    def span_count(self) -> int:
        return self.unique


def decode(bodies: list[bytes]) -> dict:
    t = time.process_time()
    n = 0
    for body in bodies:
        req = ExportTraceServiceRequest.FromString(body)
        n += sum(len(ss.spans) for rs in req.resource_spans for ss in rs.scope_spans)
    cpu = time.process_time() - t
    return {"spans": n, "cpu_s": cpu, "per_core": n / cpu, "wall": n / cpu, "rss": None}


def decode_walk(bodies: list[bytes]) -> dict:
    """Decode and turn every span's attributes into a dict: what any receiver that looks at spans pays."""
    t = time.process_time()
    n = 0
    for body in bodies:
        req = ExportTraceServiceRequest.FromString(body)
        for rs in req.resource_spans:
            for ss in rs.scope_spans:
                for span in ss.spans:
                    {a.key: a.value.string_value for a in span.attributes}
                    n += 1
    cpu = time.process_time() - t
    return {"spans": n, "cpu_s": cpu, "per_core": n / cpu, "wall": n / cpu, "rss": None}


def _config(work: str, sink: Sink, detect: bool, monitor: dict | None = None) -> dict:
    config = collector_config(os.path.join(work, "q"), sink, wait="500ms", max_bytes="1GiB")
    if monitor is not None:
        config["processors"]["monitor"] = monitor
        processors = config["service"]["pipelines"]["traces"]["processors"]
        processors.insert(processors.index("detect") + 1, "monitor")
    if not detect:
        config = copy.deepcopy(config)
        dependent = ("detect", "sampling", "findings_metrics")  # the last two need detect before them
        for name in dependent:
            del config["processors"][name]
        for pipeline in config["service"]["pipelines"].values():
            if "processors" in pipeline:
                pipeline["processors"] = [p for p in pipeline["processors"] if p not in dependent]
            if not pipeline.get("processors"):
                pipeline.pop("processors", None)
    return config


def _arrived(sink: CountingSink, total: int) -> dict:
    return {"arrived": sink.unique, "duplicates": sink.duplicates, "unexpected": sink.unexpected,
            "all_arrived": sink.unique == total and sink.unexpected == 0}


def through_collector(n: int, detect: bool, monitor: dict | None = None) -> dict:
    bodies = [request(i) for i in range(n)]
    total = n * SPANS_PER_REQUEST
    work = tempfile.mkdtemp(prefix="otel-cot-bench-")
    sink = CountingSink(total).start()
    collector = Collector(_config(work, sink, detect, monitor), work).start()
    judged: dict = {}
    try:
        pid = collector.proc.pid
        cpu0 = cpu_seconds(pid)
        started = time.monotonic()
        post_all(f"http://{collector.http_endpoint}/v1/traces", bodies)
        wait_for(lambda: sink.span_count() >= total, 1800, "all spans at the sink", 0.2)
        wall = time.monotonic() - started
        cpu = cpu_seconds(pid) - cpu0
        rss = peak_rss_mib(pid)
        if monitor is not None:
            judged = {name: int(collector.metric(f"otelcot_monitor_{name}")) for name in
                      ("calls_total", "skipped_total", "errors_total", "pending", "traces")}
    finally:
        collector.stop()
        sink.stop()
        shutil.rmtree(work, ignore_errors=True)
    return {"spans": total, "cpu_s": cpu, "per_core": total / cpu, "wall": total / wall, "rss": rss,
            **_arrived(sink, total), **({"monitor": judged} if monitor is not None else {})}


def with_monitor(n: int, delay: float, flagged_only: bool) -> dict:
    sys.path.insert(0, str(ROOT))
    from tests.support.judge_server import Answer, JudgeServer

    judge = JudgeServer()
    judge.serve(Answer(verdict={"findings": []}, delay=delay))
    section = {"api": "openai", "endpoint": judge.endpoint("openai"), "model": "scripted", "timeout": "30s",
               "budgets": {"calls_per_minute": 0, "calls_per_day": 0, "tokens_per_minute": 0,
                           "tokens_per_day": 0}}
    if not flagged_only:
        section["triggers"] = {"every_trace": True}
    try:
        result = through_collector(n, True, section)
    finally:
        judge.close()
    result["monitor"]["judge_requests"] = len(judge.requests)
    return result


# --- sustained run ----------------------------------------------------------------------------------
def sustained(total_spans: int, sample_every: int, window: int, threads: int = 4) -> dict:
    """The `on` collector under steady load: at most ``window`` requests posted but not yet at the sink,
    so the collector keeps up and what its RSS shows is its own state, not a backlog."""
    n = -(-total_spans // SPANS_PER_REQUEST)
    total = n * SPANS_PER_REQUEST
    work = tempfile.mkdtemp(prefix="otel-cot-bench-")
    sink = CountingSink(total).start()
    collector = Collector(_config(work, sink, True), work).start()
    pid = collector.proc.pid
    url = f"http://{collector.http_endpoint}/v1/traces"
    lock, index, failures = threading.Lock(), [0], []

    def worker() -> None:
        import requests
        session = requests.Session()
        while True:
            with lock:
                i = index[0]
                if i >= n:
                    return
                index[0] += 1
            while (i - window) * SPANS_PER_REQUEST > sink.span_count():
                time.sleep(0.02)
            body = request(i)
            try:
                ok = session.post(url, data=body, headers={"Content-Type": "application/x-protobuf"},
                                  timeout=120).ok
            except Exception as exc:  # noqa: BLE001 - reported below
                ok, failures[:] = False, [repr(exc)]
            if not ok:
                failures.append(i)
                return

    samples: list[dict] = []
    cpu0 = cpu_seconds(pid)
    t0 = time.monotonic()
    last = {"spans": 0, "cpu": cpu0, "t": t0}

    def sample(spans: int) -> None:
        now, cpu = time.monotonic(), cpu_seconds(pid)
        traces = collector.metric("otelcot_detector_traces")
        held = collector.metric("otelcot_grouper_spans")
        d_cpu = cpu - last["cpu"]
        samples.append({"spans": spans, "elapsed_s": round(now - t0, 1), "rss_mib": round(rss_mib(pid), 1),
                        "cpu_s": round(cpu - cpu0, 2),
                        "per_core": round((spans - last["spans"]) / d_cpu) if d_cpu > 0 else None,
                        "engine_traces": int(traces), "grouper_spans": int(held)})
        last.update(spans=spans, cpu=cpu, t=now)

    posters = [threading.Thread(target=worker, daemon=True) for _ in range(threads)]
    try:
        sample(0)
        for t in posters:
            t.start()
        mark = sample_every
        while True:
            if failures:
                raise RuntimeError(f"a request was refused: {failures[:3]}")
            got = sink.span_count()
            if got >= mark or got >= total:
                sample(got)
                mark = (got // sample_every + 1) * sample_every
            if got >= total:
                break
            if time.monotonic() - t0 > 7200:
                raise TimeoutError("sustained run took more than 2 h")
            time.sleep(0.2)
        wall = time.monotonic() - t0
        cpu = cpu_seconds(pid) - cpu0
        peak = peak_rss_mib(pid)
    finally:
        collector.stop()
        sink.stop()
        shutil.rmtree(work, ignore_errors=True)
    return {"spans": total, "cpu_s": cpu, "per_core": total / cpu, "wall": total / wall, "rss": peak,
            "samples": samples, **_arrived(sink, total)}


# --- 2 instances behind the OpenTelemetry Collector --------------------------------------------------
def find_otelcol() -> str | None:
    """The binary scripts/install-otelcol.sh built (same cache key), or None when it was not built."""
    script = (ROOT / "scripts" / "install-otelcol.sh").read_text()
    version = re.search(r'BUILDER_VERSION="([^"]+)"', script)
    manifest = ROOT / "scripts" / "otelcol-manifest.yaml"
    if version is None or not manifest.exists():
        return None
    key = hashlib.sha256(manifest.read_bytes() + (version.group(1) + "\n").encode()).hexdigest()[:12]
    tools = os.environ.get("OTEL_COT_TOOLS_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "otel-cot", "bin")
    path = os.path.join(tools, f"otelcol-cot-{key}")
    return path if os.access(path, os.X_OK) else None


def behind_otelcol(n: int, binary: str, instances: int = 2) -> dict:
    from otel_cot.demo.stack import Process, free_port

    bodies = [request(i) for i in range(n)]
    total = n * SPANS_PER_REQUEST
    work = tempfile.mkdtemp(prefix="otel-cot-bench-lb-")
    sink = CountingSink(total).start()
    collectors: list[Collector] = []
    front: Process | None = None
    try:
        for k in range(instances):
            d = os.path.join(work, f"c{k}")
            os.makedirs(d)
            collectors.append(Collector(_config(d, sink, True), d).start())
        grpc_port, http_port = free_port(), free_port()
        queue = os.path.join(work, "lb-queue")
        os.makedirs(queue)
        config = {
            "receivers": {"otlp": {"protocols": {"grpc": {"endpoint": f"127.0.0.1:{grpc_port}"},
                                                 "http": {"endpoint": f"127.0.0.1:{http_port}"}}}},
            "processors": {"batch": {}},
            "extensions": {"file_storage/lb": {"directory": queue}},
            "exporters": {"load_balancing": {
                "routing_key": "traceID",
                "protocol": {"otlp": {"tls": {"insecure": True}, "timeout": "10s",
                                      "sending_queue": {"enabled": False}}},
                "sending_queue": {"enabled": True, "storage": "file_storage/lb"},
                "resolver": {"static": {"hostnames": [c.grpc_endpoint for c in collectors]}}}},
            "service": {"extensions": ["file_storage/lb"],
                        "telemetry": {"metrics": {"level": "none"}, "logs": {"level": "info"}},
                        "pipelines": {"traces": {"receivers": ["otlp"], "processors": ["batch"],
                                                 "exporters": ["load_balancing"]}}},
        }
        front = Process(os.path.join(work, "otelcol"))
        path = os.path.join(front.workdir, "otelcol.yaml")
        with open(path, "w") as fh:
            json.dump(config, fh)  # JSON is YAML
        front._spawn([binary, "--config", path], {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")})

        def ready() -> bool:
            front._check_alive()
            return "Everything is ready" in front.log(1 << 20)
        wait_for(ready, 60, f"the OpenTelemetry Collector (log: {front.log_path})")
        pids = [c.proc.pid for c in collectors]
        cpu0 = [cpu_seconds(p) for p in pids]
        front_cpu0 = cpu_seconds(front.proc.pid)
        started = time.monotonic()
        post_all(f"http://127.0.0.1:{http_port}/v1/traces", bodies)
        wait_for(lambda: sink.span_count() >= total, 1800, "all spans at the sink (through otelcol)", 0.2)
        wall = time.monotonic() - started
        cpus = [cpu_seconds(p) - c0 for p, c0 in zip(pids, cpu0)]
        front_cpu = cpu_seconds(front.proc.pid) - front_cpu0
        rss = [peak_rss_mib(p) for p in pids]
        accepted = [int(c.metric("otelcot_receiver_accepted_items_total")) for c in collectors]
    finally:
        if front is not None:
            front.stop()
        for c in collectors:
            c.stop()
        sink.stop()
        shutil.rmtree(work, ignore_errors=True)
    cpu = sum(cpus)
    return {"spans": total, "cpu_s": cpu, "per_core": total / cpu, "wall": total / wall, "rss": max(rss),
            "instances": instances, "instance_cpu_s": [round(c, 2) for c in cpus], "instance_spans": accepted,
            "otelcol_cpu_s": round(front_cpu, 2), **_arrived(sink, total)}


MODES = ("decode", "decode+walk", "off", "on", "lb", "monitor", "monitor-flagged")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=60, help="requests of 1,000 spans per mode")
    ap.add_argument("--modes", default=",".join(MODES), help=f"comma-separated, of {', '.join(MODES)}, sustained")
    ap.add_argument("--sustained", type=int, default=600_000, help="spans in the sustained mode")
    ap.add_argument("--sample-every", type=int, default=50_000, help="sustained: spans between RSS samples")
    ap.add_argument("--window", type=int, default=20, help="sustained: requests in flight at most")
    ap.add_argument("--judge-delay", type=float, default=2.0, help="monitor modes: seconds the judge takes")
    ap.add_argument("--otelcol", help="the OpenTelemetry Collector binary for `lb` (default: the cached build)")
    ap.add_argument("--json", help="also write the results here")
    ap.add_argument("--quick", action="store_true",
                    help="smoke mode: 2 requests per mode, a 5,000-span sustained run sampled every 1,000")
    args = ap.parse_args()
    n = 2 if args.quick else args.requests
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    unknown = set(modes) - set(MODES) - {"sustained"}
    if unknown:
        ap.error(f"unknown modes: {', '.join(sorted(unknown))}")
    bodies = [request(i) for i in range(n)] if {"decode", "decode+walk"} & set(modes) else []
    results: dict[str, dict] = {}
    notes: list[str] = []
    for mode in modes:
        if mode == "decode":
            results[mode] = decode(bodies)
        elif mode == "decode+walk":
            results[mode] = decode_walk(bodies)
        elif mode in ("off", "on"):
            results[mode] = through_collector(n, mode == "on")
        elif mode in ("monitor", "monitor-flagged"):
            results[mode] = with_monitor(n, args.judge_delay, mode == "monitor-flagged")
        elif mode == "lb":
            binary = args.otelcol or find_otelcol()
            if binary is None:
                notes.append("lb: skipped, no OpenTelemetry Collector binary (run scripts/install-otelcol.sh)")
                continue
            results[mode] = behind_otelcol(n, binary)
        elif mode == "sustained":
            spans = 5_000 if args.quick else args.sustained
            every = 1_000 if args.quick else args.sample_every
            results[mode] = sustained(spans, every, args.window)
    ceiling = results.get("decode", {}).get("per_core")
    burst = [m for m in modes if m != "sustained"]
    print(f"# {os.cpu_count()} CPUs; " + (f"{n} requests x 1,000 spans per mode ({', '.join(burst)})" if burst else "")
          + ("; sustained: see below" if "sustained" in modes else ""))
    print("| mode | spans | collector CPU s | spans/s per core | % of decode ceiling | wall spans/s | peak RSS MiB "
          "| all at sink |")
    print("|---|---|---|---|---|---|---|---|")
    for mode, r in results.items():
        rss = "" if r["rss"] is None else f"{r['rss']:.0f}"
        pct = f"{100 * r['per_core'] / ceiling:.1f}%" if ceiling else ""
        arrived = "" if "all_arrived" not in r else \
            ("yes" if r["all_arrived"] else "NO") + (f" ({r['duplicates']} duplicates)" if r["duplicates"] else "")
        print(f"| {mode} | {r['spans']:,} | {r['cpu_s']:.2f} | {r['per_core']:,.0f} | {pct} | {r['wall']:,.0f} | "
              f"{rss} | {arrived} |")
    for mode in ("monitor", "monitor-flagged"):
        if mode in results:
            print(f"\n{mode}: {results[mode]['monitor']}")
    if "lb" in results:
        r = results["lb"]
        print(f"\nlb: {r['instances']} instances, spans per instance {r['instance_spans']}, collector CPU s "
              f"{r['instance_cpu_s']}, OpenTelemetry Collector CPU s {r['otelcol_cpu_s']}")
    if "sustained" in results:
        print("\nsustained (detectors on):")
        print("| spans at sink | elapsed s | RSS MiB | collector CPU s | spans/s per core (interval) "
              "| engine traces | grouper spans |")
        print("|---|---|---|---|---|---|---|")
        for s in results["sustained"]["samples"]:
            print(f"| {s['spans']:,} | {s['elapsed_s']} | {s['rss_mib']} | {s['cpu_s']} | "
                  f"{'' if s['per_core'] is None else format(s['per_core'], ',')} | {s['engine_traces']:,} | "
                  f"{s['grouper_spans']:,} |")
    for note in notes:
        print(note)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"requests": n, "results": results, "notes": notes}, fh, indent=1)
    failed = [mode for mode, r in results.items() if r.get("all_arrived") is False]
    if failed:
        sys.exit(f"spans missing at the sink: {', '.join(failed)}")


if __name__ == "__main__":
    main()
