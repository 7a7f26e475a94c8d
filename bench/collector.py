"""Collector spans/s per core: detectors on vs. off vs. the bare OTLP receive ceiling (protobuf decode only).

    python bench/collector.py [--requests 60] [--quick]

Same load as collector/bench/throughput.py (requests of 1,000 GenAI tool spans, 6 attributes each, posted
over OTLP/HTTP from 4 threads to the real collector process, which queues them durably and exports to a
sink in this process):

  decode  ExportTraceServiceRequest.FromString over the same bodies, in this process, one thread: the
          ceiling of any Python OTLP receiver on this machine
  decode+walk  the same, plus every span's attributes read into a dict (what looking at spans costs)
  off     the collector with `detect` removed (and `sampling` / `findings_metrics`, which need it):
          receive, group_by_trace, durable queue, export
  on      the collector as shipped (group_by_trace, detect, sampling, findings_metrics)

"per core" is spans per CPU-second of the collector process (utime + stime from /proc), so the sink and the
client threads, which share the 2 cores, do not count against it; wall spans/s is given too, with the
collector's peak RSS (VmHWM).
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "collector" / "bench"))
sys.path.insert(0, str(ROOT / "collector" / "tests"))

from collector_support import Collector, Sink, collector_config, wait_for  # noqa: E402
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest  # noqa: E402
from throughput import post_all, request  # noqa: E402


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


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


def through_collector(bodies: list[bytes], detect: bool) -> dict:
    total = len(bodies) * 1000
    work = tempfile.mkdtemp(prefix="otel-cot-bench-")
    sink = Sink().start()
    config = collector_config(os.path.join(work, "q"), sink, wait="500ms", max_bytes="1GiB")
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
    collector = Collector(config, work).start()
    pid = collector.proc.pid
    cpu0 = cpu_seconds(pid)
    started = time.monotonic()
    post_all(f"http://{collector.http_endpoint}/v1/traces", bodies)
    wait_for(lambda: sink.span_count() >= total, 900, "all spans at the sink", 0.2)
    wall = time.monotonic() - started
    cpu = cpu_seconds(pid) - cpu0
    rss = peak_rss_mib(pid)
    collector.stop()
    sink.stop()
    return {"spans": total, "cpu_s": cpu, "per_core": total / cpu, "wall": total / wall, "rss": rss}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=60, help="requests of 1,000 spans per mode")
    ap.add_argument("--quick", action="store_true", help="smoke mode: 2 requests per mode")
    args = ap.parse_args()
    n = 2 if args.quick else args.requests
    bodies = [request(i) for i in range(n)]
    results = {"decode": decode(bodies), "decode+walk": decode_walk(bodies), "off": through_collector(bodies, False),
               "on": through_collector(bodies, True)}
    ceiling = results["decode"]["per_core"]
    print(f"# {n} requests x 1,000 spans per mode, {os.cpu_count()} CPUs")
    print("| mode | spans | collector CPU s | spans/s per core | % of decode ceiling | wall spans/s | peak RSS MiB |")
    print("|---|---|---|---|---|---|---|")
    for mode, r in results.items():
        rss = "" if r["rss"] is None else f"{r['rss']:.0f}"
        print(f"| {mode} | {r['spans']:,} | {r['cpu_s']:.2f} | {r['per_core']:,.0f} | "
              f"{100 * r['per_core'] / ceiling:.1f}% | {r['wall']:,.0f} | {rss} |")


if __name__ == "__main__":
    main()
