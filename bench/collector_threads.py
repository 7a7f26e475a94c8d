"""The collector process's CPU per span by thread, with its minor page faults and context switches: where
``bench/collector.py``'s per-core figure goes (receiver, pipeline, detector thread, exporter, queue writer).

    python bench/collector_threads.py [--requests 100] [--modes on,off] [--warm 0]

The load and the collector are those of ``bench/collector.py`` (``on``: the collector as shipped; ``off``:
without ``detect``, ``sampling`` and ``findings_metrics``). Each thread's utime + stime, minor faults and
voluntary / involuntary context switches are read from ``/proc/PID/task`` before and after the load
(after ``--warm`` requests that are not counted, e.g. to fill the engine's traces first). Threads are named
from ``py-spy dump`` when py-spy is on PATH, else shown by their native id.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import collector as bench  # noqa: E402

_TICK = os.sysconf("SC_CLK_TCK")


def _threads(pid: int) -> dict[int, tuple[float, float, int, int, int]]:
    """Native id -> (user s, system s, minor faults, voluntary, involuntary context switches)."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            stat = Path(f"/proc/{pid}/task/{tid}/stat").read_text().rsplit(")", 1)[1].split()
            status = Path(f"/proc/{pid}/task/{tid}/status").read_text()
        except FileNotFoundError:  # the thread ended meanwhile
            continue
        switches = [int(re.search(rf"^{k}_ctxt_switches:\s+(\d+)", status, re.M).group(1))  # type: ignore[union-attr]
                    for k in ("voluntary", "nonvoluntary")]
        out[int(tid)] = (int(stat[11]) / _TICK, int(stat[12]) / _TICK, int(stat[7]), *switches)
    return out


def _names(pid: int) -> dict[int, str]:
    if shutil.which("py-spy") is None:
        return {}
    dump = subprocess.run(["py-spy", "dump", "-p", str(pid)], capture_output=True, text=True).stdout
    return {int(tid): name for tid, name in re.findall(r'^Thread (\d+) \([^)]*\): "([^"]*)"', dump, re.M)}


def run(mode: str, requests: int, warm: int) -> None:
    bodies = [bench.request(n) for n in range(warm + requests)]
    spans = requests * bench.SPANS_PER_REQUEST
    work = tempfile.mkdtemp()
    sink = bench.CountingSink(len(bodies) * bench.SPANS_PER_REQUEST).start()
    collector = bench.Collector(bench._config(work, sink, mode == "on"), work).start()
    try:
        url = f"http://{collector.http_endpoint}/v1/traces"
        pid = collector.proc.pid
        if warm:
            bench.post_all(url, bodies[:warm])
            bench.wait_for(lambda: sink.span_count() >= warm * bench.SPANS_PER_REQUEST, 1800, "sink", 0.2)
        before = _threads(pid)
        bench.post_all(url, bodies[warm:])
        bench.wait_for(lambda: sink.span_count() >= len(bodies) * bench.SPANS_PER_REQUEST, 1800, "sink", 0.2)
        after = _threads(pid)
        names = _names(pid)
    finally:
        collector.stop()
        sink.stop()
        shutil.rmtree(work, ignore_errors=True)
    rows = []
    for tid, now in after.items():
        was = before.get(tid, (0.0, 0.0, 0, 0, 0))
        delta = [a - b for a, b in zip(now, was)]
        if delta[0] + delta[1] > 0:
            rows.append((names.get(tid, f"thread {tid}"), *delta))
    rows.sort(key=lambda r: -(r[1] + r[2]))
    user, system = sum(r[1] for r in rows), sum(r[2] for r in rows)
    print(f"\n## {mode}: {spans:,} spans (after {warm} requests not counted), {1e6 * (user + system) / spans:.1f} "
          f"µs of CPU per span (user {user:.2f} s, system {system:.2f} s)\n")
    print("| thread | µs per span | user s | system s | minor faults | voluntary / involuntary switches |")
    print("|---|---|---|---|---|---|")
    for name, u, s, faults, vol, invol in rows:
        print(f"| {name} | {1e6 * (u + s) / spans:.2f} | {u:.2f} | {s:.2f} | {faults:,} | {vol:,} / {invol:,} |")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=100)
    ap.add_argument("--modes", default="on,off")
    ap.add_argument("--warm", type=int, default=0)
    args = ap.parse_args()
    for mode in args.modes.split(","):
        run(mode, args.requests, args.warm)


if __name__ == "__main__":
    main()
