"""``otel-cot demo``: a scripted coding-agent session, instrumented, judged and stored in Jaeger.

The session (``session.py``) is the real ``anthropic`` SDK replaying recorded responses from a loopback
server, with simulated tools. The spans go through the otel-cot collector, started as a separate process
(``stack.py``), or, when it is not installed, through the in-process detectors, into Jaeger; the command
prints the flagged trace's URL.
"""

from __future__ import annotations

import argparse
import os
import signal
import tempfile
import time
from typing import Any

from .session import SERVICE, ReplayProvider, load_turns, run_session


def _say(msg: str) -> None:
    print(msg, flush=True)


def main(args: argparse.Namespace) -> int:
    try:
        import anthropic  # noqa: F401
    except ImportError:
        _say("otel-cot demo needs the anthropic SDK: pip install 'otel-cot[demo]' (or pip install anthropic)")
        return 2
    from . import stack

    workdir = args.workdir or tempfile.mkdtemp(prefix="otel-cot-demo-")
    started: list[stack.Process] = []
    provider = None
    try:
        # 1. Jaeger: the one given, or a local one
        if args.jaeger_url:
            jaeger = _ExternalJaeger(args.jaeger_url.rstrip("/"), args.jaeger_otlp)
            _say(f"Jaeger: using {jaeger.url} (OTLP/HTTP {jaeger.otlp_http})")
        else:
            binary = stack.find_jaeger()
            if not binary:
                _say("No Jaeger found (looked at $OTEL_COT_JAEGER, the installer's cache "
                     f"{stack.tools_dir()} and PATH). Build one with scripts/install-jaeger.sh, "
                     "or pass --jaeger-url of a running Jaeger v2.")
                return 2
            jaeger = stack.Jaeger(os.path.join(workdir, "jaeger"), binary)
            started.append(jaeger)
            jaeger.start()
            _say(f"Jaeger: started {binary} (query {jaeger.url}, OTLP/HTTP {jaeger.otlp_http})")

        # 2. The otel-cot collector in front of it, or in-process detection
        detect_in_process = args.in_process or (not args.otlp_endpoint and stack.collector_command() is None)
        if args.otlp_endpoint:
            endpoint = args.otlp_endpoint.rstrip("/")
            _say(f"Agent: exporting to {endpoint} (OTLP/HTTP), which must reach that Jaeger"
                 + (", detectors in-process" if detect_in_process else ""))
        elif detect_in_process:
            endpoint = jaeger.otlp_http
            why = "as asked" if args.in_process else "otel-cot-collector is not installed (pip install ./collector)"
            _say(f"Detectors: in-process, otel_cot.init(detect=True), exporting straight to Jaeger ({why})")
        else:
            collector = stack.OtelCotCollector(os.path.join(workdir, "collector"), jaeger.otlp_http,
                                               exporter="otlp_http", wait="300ms")
            started.append(collector)
            collector.start()
            endpoint = collector.otlp_http
            _say(f"Collector: otel-cot-collector on {collector.otlp_http} (OTLP/HTTP) -> Jaeger")

        # 3. The scripted agent session
        provider = ReplayProvider([t["response"] for t in load_turns()])
        trace_id = _instrumented_session(provider.url, endpoint, detect_in_process)
        _say(f"Agent: played {provider.requests} recorded model calls (trace {trace_id})")

        # 4. Wait until Jaeger has the flagged trace
        flagged = stack.wait_for(lambda: _flagged_spans(jaeger, trace_id), args.timeout,
                                 "the flagged trace in Jaeger", 0.2)
        for span in flagged:
            a = span["attrs"]
            _say(f"  flagged: {span['name']}: {', '.join(a.get('cot.finding.categories') or [])} "
                 f"({a.get('cot.finding.max_severity')})")
        _say(f"Flagged trace: {jaeger.url}/trace/{trace_id}")
        _say(f"  as OTLP JSON: {jaeger.url}/api/v3/traces/{trace_id}")
        _say(f"  search: service {SERVICE}, tags cot.flagged=true")
        if not args.jaeger_url:
            _say("  (a Jaeger built with `go install` serves a placeholder page instead of the UI; the API "
                 "URLs work, or point --jaeger-url at a release build of Jaeger)")
        if not args.exit and started:
            _say("Press Ctrl-C to stop Jaeger and the collector.")
            signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started in the background
            signal.signal(signal.SIGTERM, _interrupt)
            try:
                while all(p.alive() for p in started):
                    time.sleep(0.5)
            except KeyboardInterrupt:
                pass
        return 0
    except (TimeoutError, RuntimeError, FileNotFoundError) as e:
        _say(f"demo failed: {e}")
        return 1
    finally:
        if provider:
            provider.close()
        for p in reversed(started):
            p.stop()


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _instrumented_session(provider_url: str, endpoint: str, detect: bool) -> str:
    import otel_cot

    otel_cot.init(service_name=SERVICE, endpoint=endpoint, protocol="http/protobuf", detect=detect,
                  instrument=["anthropic"])
    try:
        return run_session(provider_url)
    finally:
        otel_cot.shutdown()


def _flagged_spans(jaeger: Any, trace_id: str) -> list[dict[str, Any]]:
    from .stack import otlp_spans

    result = jaeger.trace(trace_id)
    if not result:
        return []
    spans = otlp_spans(result)
    if not any(s["name"].startswith("invoke_agent") for s in spans):
        return []  # the root span ends last: wait for the whole trace
    return [s for s in spans if s["attrs"].get("cot.flagged") is True]


class _ExternalJaeger:
    """A Jaeger someone else runs: its query URL and its OTLP/HTTP base URL."""

    def __init__(self, url: str, otlp_http: str | None) -> None:
        from urllib.parse import urlsplit

        self.url = url
        self.otlp_http = (otlp_http or f"http://{urlsplit(url).hostname}:4318").rstrip("/")

    def trace(self, trace_id: str) -> dict[str, Any] | None:
        from .stack import Jaeger

        return Jaeger.trace(self, trace_id)  # type: ignore[arg-type]


def add_parser(sub: Any) -> None:
    p = sub.add_parser("demo", help="run a scripted agent session into Jaeger and print the flagged trace's URL")
    p.add_argument("--jaeger-url", help="query URL of a running Jaeger v2 (default: start one locally)")
    p.add_argument("--jaeger-otlp", help="that Jaeger's OTLP/HTTP base URL (default: its host, port 4318)")
    p.add_argument("--otlp-endpoint", metavar="URL",
                   help="send the agent's spans to this OTLP/HTTP base URL (a running otel-cot collector or "
                        "OpenTelemetry Collector that forwards to the Jaeger) instead of starting a collector")
    p.add_argument("--in-process", action="store_true",
                   help="run the detectors in the agent process instead of in the otel-cot collector")
    p.add_argument("--exit", action="store_true", help="stop Jaeger and the collector after printing the URL")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for the trace in Jaeger")
    p.add_argument("--workdir", help="directory for configs, logs and the queue (default: a temporary one)")
    p.set_defaults(func=main)

