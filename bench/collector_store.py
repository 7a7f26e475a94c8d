"""The durable queue's CPU per span, in process: what the collector's SQLite queue costs for the load of
``bench/collector.py`` (requests of 1,000 ``execute_tool bash`` spans, ~400 KiB each).

    PYTHONPATH=. python bench/collector_store.py [--requests 30] [--rounds 3] [--repeat 3]

Each round appends ``--requests`` requests (as receivers do, waiting for each commit), moves each inbox row to
one outbox row (as the pipeline does), then reads and deletes the outbox rows one at a time (as an exporter
does). Prints user and system CPU µs per span, the best of ``--repeat`` runs (each on a new queue in a
temporary directory on the same disk as the system's temporary files). Run it from exports of two commits
to compare their ``Store``.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "collector" / "bench"))
sys.path.insert(0, str(ROOT / "collector"))

from otel_cot_collector.store import Store  # noqa: E402
from throughput import request  # noqa: E402

TRACES = 1


def _cpu() -> tuple[float, float]:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime, usage.ru_stime


def one_run(bodies: list[bytes], rounds: int) -> tuple[float, float]:
    directory = tempfile.mkdtemp()
    store = Store(directory, 1 << 33)
    try:
        user0, sys0 = _cpu()
        cursor = 0
        for _ in range(rounds):
            for fut in [store.append(TRACES, body) for body in bodies]:
                fut.result()
            for row_id, code, data in store.read_inbox(cursor, len(bodies)):
                cursor = row_id
                store.move([row_id], [("sink", code, data)])
            while rows := store.read_outbox("sink", 0, 1, 1 << 30):
                store.delete_outbox(rows)
        user1, sys1 = _cpu()
    finally:
        store.close()
        shutil.rmtree(directory)
    spans = rounds * len(bodies) * 1000
    return (user1 - user0) / spans * 1e6, (sys1 - sys0) / spans * 1e6


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=30)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    bodies = [request(n) for n in range(args.requests)]
    runs = [one_run(bodies, args.rounds) for _ in range(args.repeat)]
    user, system = min(runs, key=sum)
    print(f"# {args.rounds * args.requests * 1000:,} spans per run, best of {args.repeat}: µs of CPU per span")
    print(f"user {user:.2f}  system {system:.2f}  total {user + system:.2f}")


if __name__ == "__main__":
    main()
