"""``otel-cot demo``: a scripted coding-agent session, instrumented, judged and shown.

The session (``session.py``) is the real ``anthropic`` SDK replaying recorded responses from a loopback
server, with simulated tools. Its spans go over OTLP to the otel-cot collector, started as a separate
process (``stack.py``), which runs the detectors and exports over OTLP to a receiver inside this process
(``receiver.py``) and, when there is one, to Jaeger. Without the collector installed (or with
``--in-process``) the detectors run in the agent process instead. The command reads the trace back as it
arrived, prints it as a span tree with the findings, writes the HTML report, and prints where to look in
Jaeger (saying so when that Jaeger has no UI).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import tempfile
import time
from typing import Any, Callable

from .session import SERVICE, ReplayProvider, load_turns, run_session

DEFAULT_REPORT = "otel-cot-demo.html"
RELEASE_JAEGER = ("docker run --rm -p 16686:16686 -p 4318:4318 jaegertracing/jaeger:2.13.0 (or a release "
                  "binary from https://github.com/jaegertracing/jaeger/releases), then "
                  "otel-cot demo --jaeger-url http://127.0.0.1:16686")


class DemoError(Exception):
    """A reason the demo cannot go on, said in one line."""


class _OutputClosed(Exception):
    """Whoever read our output stopped (``otel-cot demo | head``): stop too, quietly, and clean up."""


def _say(msg: str = "") -> None:
    try:
        print(msg, flush=True)
    except BrokenPipeError:
        # Send the rest (and the interpreter's final flush) to /dev/null instead of another broken pipe.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        raise _OutputClosed() from None


def main(args: argparse.Namespace) -> int:
    try:
        import anthropic  # noqa: F401
    except ImportError:
        _say("otel-cot demo needs the anthropic SDK: pip install anthropic "
             "(from a checkout: pip install \".[demo]\" ./collector)")
        return 2
    if args.otlp_endpoint and not args.jaeger_url:
        _say("--otlp-endpoint needs --jaeger-url: the demo reads the trace back from the Jaeger that endpoint "
             "forwards to")
        return 2
    workdir = args.workdir or tempfile.mkdtemp(prefix="otel-cot-demo-")
    keep = bool(args.workdir or args.keep)
    started: list[Any] = []
    closers: list[Callable[[], None]] = []
    ok = False
    try:
        code = _run(args, workdir, started, closers)
        ok = code == 0
        return code
    except _OutputClosed:
        return 1
    except KeyboardInterrupt:  # Ctrl-C before the trace was shown: stop everything, quietly
        return 130
    except (DemoError, TimeoutError, RuntimeError, OSError) as e:
        keep = True
        _say(f"demo failed: {e}")
        _say(f"Logs and configs kept in {workdir}")
        return 1
    finally:
        for p in reversed(started):  # the collector first, while the receiver it exports to still answers
            p.stop()
        for close in closers:
            close()
        if ok and args.keep:
            _say(f"Kept {workdir}")
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)


def _run(args: argparse.Namespace, workdir: str, started: list[Any], closers: list[Callable[[], None]]) -> int:
    from . import stack
    from .receiver import TraceReceiver

    # 1. Jaeger: the one given, a local one, or none
    jaeger: Any = None
    if args.jaeger_url:
        jaeger = _ExternalJaeger(args.jaeger_url.rstrip("/"), args.jaeger_otlp)
        _say(f"Jaeger: using {jaeger.url} (OTLP/HTTP {jaeger.otlp_http})")
    elif (binary := stack.find_jaeger()) is not None:
        jaeger = stack.Jaeger(os.path.join(workdir, "jaeger"), binary)
        started.append(jaeger)
        jaeger.start()
        _say(f"Jaeger: started {binary} (query {jaeger.url}, OTLP/HTTP {jaeger.otlp_http})")
    else:
        _say("Jaeger: none here (looked at $OTEL_COT_JAEGER, the cache of scripts/install-jaeger.sh and PATH); "
             "the trace is shown here and in the HTML report")

    # 2. Where the spans go: the collector (-> this process's receiver, and Jaeger), or in-process detection
    receiver = None
    detect_in_process = args.in_process or (not args.otlp_endpoint and stack.collector_command() is None)
    if args.otlp_endpoint:
        endpoint = args.otlp_endpoint.rstrip("/")
        _say(f"Agent: exporting to {endpoint} (OTLP/HTTP), which must reach that Jaeger"
             + (", detectors in-process" if detect_in_process else ""))
    elif detect_in_process:
        why = ("as asked" if args.in_process
               else "otel-cot-collector is not installed; from a checkout: pip install ./collector")
        if jaeger is not None:
            endpoint = jaeger.otlp_http
            _say(f"Detectors: in-process, otel_cot.init(detect=True), exporting straight to Jaeger ({why})")
        else:
            receiver = TraceReceiver()
            closers.append(receiver.close)
            endpoint = receiver.url
            _say(f"Detectors: in-process, otel_cot.init(detect=True), exporting to {endpoint} in this process "
                 f"({why})")
    else:
        receiver = TraceReceiver()
        closers.append(receiver.close)
        also = [("otlp_http", jaeger.otlp_http)] if jaeger is not None else []
        collector = stack.OtelCotCollector(os.path.join(workdir, "collector"), receiver.url, exporter="otlp_http",
                                           wait="300ms", also=also)
        started.append(collector)
        collector.start()
        endpoint = collector.otlp_http
        _say(f"Collector: otel-cot-collector (pid {collector.proc.pid}) on {collector.otlp_http} (OTLP/HTTP), "
             f"detectors on; exports to {receiver.url} in this process" + (" and to Jaeger" if jaeger else ""))

    # 3. The scripted agent session
    provider = ReplayProvider([t["response"] for t in load_turns()])
    closers.insert(0, provider.close)
    trace_id = _instrumented_session(provider.url, endpoint, detect_in_process)
    _say(f"Agent: played {provider.requests} recorded model calls (trace {trace_id})")

    # 4. The trace as it arrived: from the receiver, else from Jaeger
    source = receiver if receiver is not None else jaeger
    where = "this process's OTLP receiver" if receiver is not None else "Jaeger"
    document = stack.wait_for(lambda: _whole_trace(source, trace_id), args.timeout,
                              f"the trace in {where}", 0.2)
    flagged = _show(document, args)
    if not flagged:
        raise DemoError("the trace arrived but no span is flagged: the detectors did not run on it")

    # 5. Jaeger
    if jaeger is not None:
        if receiver is not None:
            stack.wait_for(lambda: _whole_trace(jaeger, trace_id), args.timeout, "the trace in Jaeger", 0.2)
        has_ui = _say_jaeger(jaeger, trace_id)
        if has_ui and not args.exit and not args.jaeger_url:
            _say("Press Ctrl-C to stop Jaeger and the collector.")
            signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started in the background
            signal.signal(signal.SIGTERM, _interrupt)
            try:
                while all(p.alive() for p in started):
                    time.sleep(0.5)
            except KeyboardInterrupt:
                pass
    return 0


def _show(document: dict[str, Any], args: argparse.Namespace) -> list[Any]:
    """Print the trace as a tree and write the HTML report; the flagged spans."""
    from otel_cot.detectors.traces import otlp_records
    from otel_cot.report import build_traces, findings_from_otlp, render_tree, services_from_otlp, write_html

    traces = build_traces(list(otlp_records(document)), findings_from_otlp(document), services_from_otlp(document))
    _say()
    _say(render_tree(traces).rstrip("\n"))
    _say()
    flagged = [s for t in traces for s in t.flagged]
    for span in flagged:
        for f in span.findings:
            _say(f"  flagged: {span.record.name}: {f.category} ({f.severity})")
    path = write_html(args.html, traces, title="otel-cot demo", source=f"service {SERVICE}")
    _say(f"HTML report: file://{path}  (one file, no server: open it in a browser, or attach it)")
    return flagged


def _say_jaeger(jaeger: Any, trace_id: str) -> bool:
    """Where the trace is in Jaeger; True when that Jaeger has a UI to look at it in."""
    from .stack import jaeger_ui

    api = f"{jaeger.url}/api/v3/traces/{trace_id}"
    if jaeger_ui(jaeger.url, trace_id) == "placeholder":
        _say(f"Jaeger: stored the trace, but {jaeger.url} has no UI (this Jaeger was built without its UI "
             "assets; its pages say \"This is not the Jaeger UI you are looking for\").")
        _say(f"  as OTLP JSON: {api}")
        _say(f"  for Jaeger's UI, run the official release: {RELEASE_JAEGER}")
        return False
    _say(f"Flagged trace in Jaeger: {jaeger.url}/trace/{trace_id}")
    _say(f"  as OTLP JSON: {api}")
    _say(f"  search: service {SERVICE}, tags cot.flagged=true")
    return True


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


def _whole_trace(source: Any, trace_id: str) -> dict[str, Any] | None:
    """The trace once its root span (which ends last) has arrived; None before."""
    from .stack import otlp_spans

    document = source.trace(trace_id)
    if not document or not any(s["name"].startswith("invoke_agent") for s in otlp_spans(document)):
        return None
    return document


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
    p = sub.add_parser("demo", help="run a scripted agent session through the detectors and show the flagged "
                                    "trace (terminal, HTML report, and Jaeger when there is one)")
    p.add_argument("--jaeger-url", help="query URL of a running Jaeger v2, e.g. the official release's "
                                        "http://127.0.0.1:16686 (default: start a local build if there is one)")
    p.add_argument("--jaeger-otlp", help="that Jaeger's OTLP/HTTP base URL (default: its host, port 4318)")
    p.add_argument("--otlp-endpoint", metavar="URL",
                   help="send the agent's spans to this OTLP/HTTP base URL (a running otel-cot collector or "
                        "OpenTelemetry Collector that forwards to the --jaeger-url Jaeger) instead of starting "
                        "a collector")
    p.add_argument("--in-process", action="store_true",
                   help="run the detectors in the agent process instead of in the otel-cot collector")
    p.add_argument("--html", metavar="FILE", default=DEFAULT_REPORT,
                   help=f"where to write the HTML report (default: {DEFAULT_REPORT} in the current directory)")
    p.add_argument("--exit", action="store_true",
                   help="do not keep a local Jaeger that has a UI running until Ctrl-C: stop everything and exit")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for the trace")
    p.add_argument("--workdir", help="directory for configs, logs and the queue, kept afterwards "
                                     "(default: a temporary one, removed at exit)")
    p.add_argument("--keep", action="store_true", help="keep the temporary directory (logs, configs, queue)")
    p.set_defaults(func=main)
