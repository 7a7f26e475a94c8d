"""Collector throughput on this machine: N requests of 1,000 spans (GenAI tool spans, 6 attributes) over
OTLP/HTTP from 4 threads → the collector (group_by_trace, detect, sampling, findings_metrics) → a sink.

    python collector/bench/throughput.py [requests]
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests"))

import requests  # noqa: E402
from collector_support import Collector, Sink, collector_config, wait_for  # noqa: E402
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest  # noqa: E402


def request(n: int) -> bytes:
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    rs.resource.attributes.add(key="service.name").value.string_value = "bench"
    ss = rs.scope_spans.add()
    for i in range(1000):
        sid = n * 1000 + i + 1
        span = ss.spans.add(trace_id=(sid // 10 + (1 << 100)).to_bytes(16, "big"), span_id=sid.to_bytes(8, "big"),
                            name="execute_tool bash", start_time_unix_nano=1, end_time_unix_nano=2)
        for k, v in {"gen_ai.tool.name": "bash", "gen_ai.operation.name": "execute_tool",
                     "gen_ai.tool.call.id": f"call_{sid}", "gen_ai.tool.type": "function",
                     "gen_ai.tool.call.arguments": json.dumps({"command": f"pytest tests/test_{i}.py -q"}),
                     "gen_ai.tool.call.result": "1 passed in 0.01s " * 5}.items():
            span.attributes.add(key=k).value.string_value = v
    return req.SerializeToString()


def post_all(url: str, bodies: list[bytes], threads: int = 4, timeout: float = 120.0) -> None:
    """POST every body as OTLP/HTTP protobuf from ``threads`` threads; each must be acknowledged."""
    lock, index = threading.Lock(), [0]

    def worker() -> None:
        session = requests.Session()
        while True:
            with lock:
                if index[0] >= len(bodies):
                    return
                body = bodies[index[0]]
                index[0] += 1
            assert session.post(url, data=body, headers={"Content-Type": "application/x-protobuf"},
                                timeout=timeout).ok

    workers = [threading.Thread(target=worker) for _ in range(threads)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()


def main() -> None:
    total = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    bodies = [request(n) for n in range(total)]
    work = tempfile.mkdtemp()
    sink = Sink().start()
    collector = Collector(collector_config(os.path.join(work, "q"), sink, wait="500ms", max_bytes="1GiB"), work).start()
    started = time.monotonic()
    post_all(f"http://{collector.http_endpoint}/v1/traces", bodies)
    acked = time.monotonic() - started
    wait_for(lambda: sink.span_count() >= total * 1000, 600, "all spans at the sink", 0.2)
    delivered = time.monotonic() - started
    print(f"{total * 1000} spans: acknowledged (durably queued) at {total * 1000 / acked:,.0f} spans/s; "
          f"processed and delivered at {total * 1000 / delivered:,.0f} spans/s")
    collector.stop()
    sink.stop()


if __name__ == "__main__":
    main()
