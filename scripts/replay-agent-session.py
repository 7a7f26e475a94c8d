#!/usr/bin/env python3
"""Send an example coding-agent session (an OTLP/JSON logs file such as tests/fixtures/coding_agents/
claude_code.session.json) to an OTLP/HTTP endpoint as if it had just happened.

The recorded sessions are months old, and Jaeger's search looks at the last hour by default: replayed as
they are, their spans would be stored and never found. So every record time (``timeUnixNano``,
``observedTimeUnixNano``) and ``event.timestamp`` attribute is shifted by the same amount, so that the
last record is now. With ``--jaeger-url`` the script then waits (at most ``--timeout`` seconds) until
Jaeger finds the session's flagged spans in the last hour, and prints where.

    python3 scripts/replay-agent-session.py tests/fixtures/coding_agents/claude_code.session.json \\
        --endpoint http://127.0.0.1:4318 --jaeger-url http://127.0.0.1:16686

Standard library only.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Iterator

TIME_KEYS = ("timeUnixNano", "observedTimeUnixNano")


def records(document: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for rl in document.get("resourceLogs") or ():
        for sl in rl.get("scopeLogs") or ():
            yield from sl.get("logRecords") or ()


def _timestamp_attrs(record: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for kv in record.get("attributes") or ():
        if kv.get("key") == "event.timestamp" and "stringValue" in (kv.get("value") or {}):
            yield kv["value"]


def _parse_iso(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def shift_to_now(document: dict[str, Any], now_ns: int | None = None) -> int:
    """Shift every time in ``document`` (in place) so that the latest is ``now_ns``; the shift in ns."""
    now_ns = time.time_ns() if now_ns is None else now_ns
    latest = 0
    for rec in records(document):
        latest = max([latest] + [int(rec.get(k) or 0) for k in TIME_KEYS])
        for value in _timestamp_attrs(rec):
            latest = max(latest, int(_parse_iso(value["stringValue"]).timestamp() * 1e9))
    if not latest:
        return 0
    delta = now_ns - latest
    for rec in records(document):
        for key in TIME_KEYS:
            if int(rec.get(key) or 0):
                rec[key] = str(int(rec[key]) + delta)
        for value in _timestamp_attrs(rec):
            shifted = _parse_iso(value["stringValue"]) + dt.timedelta(microseconds=delta // 1000)
            value["stringValue"] = shifted.astimezone(dt.timezone.utc).isoformat(timespec="milliseconds") \
                .replace("+00:00", "Z")
    return delta


def service_name(document: dict[str, Any]) -> str | None:
    for rl in document.get("resourceLogs") or ():
        for kv in (rl.get("resource") or {}).get("attributes") or ():
            if kv.get("key") == "service.name":
                return (kv.get("value") or {}).get("stringValue")
    return None


def post(endpoint: str, document: dict[str, Any]) -> None:
    body = json.dumps({"resourceLogs": document.get("resourceLogs") or []}).encode()
    req = urllib.request.Request(endpoint.rstrip("/") + "/v1/logs", data=body, method="POST",
                                 headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        resp.read()


def flagged_in_jaeger(jaeger_url: str, service: str) -> list[str]:
    query = urllib.parse.urlencode({"service": service, "lookback": "1h", "limit": 20,
                                    "tags": json.dumps({"cot.flagged": "true"})})
    try:
        with urllib.request.urlopen(f"{jaeger_url.rstrip('/')}/api/traces?{query}", timeout=5) as resp:
            return sorted({t["traceID"] for t in json.loads(resp.read()).get("data") or []})
    except (urllib.error.URLError, OSError, ValueError):
        return []


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("file", help="an OTLP/JSON logs file (ExportLogsServiceRequest)")
    p.add_argument("--endpoint", default="http://127.0.0.1:4318", help="OTLP/HTTP base URL (default: %(default)s)")
    p.add_argument("--jaeger-url", help="wait until this Jaeger finds the session's flagged spans, and print them")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for Jaeger (default: %(default)s)")
    args = p.parse_args(argv)
    try:
        with open(args.file, encoding="utf-8") as fh:
            document = json.load(fh)
        if not isinstance(document, dict) or not any(True for _ in records(document)):
            print(f"{args.file}: no OTLP log records (resourceLogs) in it", file=sys.stderr)
            return 2
        delta = shift_to_now(document)
        post(args.endpoint, document)
    except (OSError, ValueError) as exc:
        print(f"replay failed: {exc}", file=sys.stderr)
        return 1
    count = sum(1 for _ in records(document))
    service = service_name(document) or "?"
    print(f"sent {count} records of service {service} to {args.endpoint}, "
          f"times shifted by {delta / 86_400e9:+.1f} days to end now")
    if args.jaeger_url:
        deadline = time.monotonic() + args.timeout
        while not (found := flagged_in_jaeger(args.jaeger_url, service)):
            if time.monotonic() > deadline:
                print(f"no flagged {service} trace in Jaeger's last hour after {args.timeout:g}s", file=sys.stderr)
                return 1
            time.sleep(0.5)
        for trace_id in found:
            print(f"flagged session in Jaeger: {args.jaeger_url.rstrip('/')}/trace/{trace_id} "
                  f"(search: service {service}, tags cot.flagged=true, last hour)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
