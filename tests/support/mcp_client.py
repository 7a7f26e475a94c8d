"""Connecting to tests/support/mcp_server.py: as a stdio subprocess exporting its spans to an OtlpSink, or
in-process (mcp 2.x ``Client(server)``, mcp 1.x memory streams) for tests that patch the server's code."""

from __future__ import annotations

import os
import sys
import time
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, AsyncIterator

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

from .otlp_sink import OtlpSink

SERVER_SCRIPT = Path(__file__).resolve().parent / "mcp_server.py"


@asynccontextmanager
async def stdio_session(sink: OtlpSink, *, traced: bool = True) -> AsyncIterator[ClientSession]:
    """A session with the server in a subprocess; ``traced=False`` runs it without otel-cot."""
    params = StdioServerParameters(command=sys.executable, args=[str(SERVER_SCRIPT)], env=server_env(sink, traced))
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            yield session


def server_env(sink: OtlpSink, traced: bool = True) -> dict[str, str]:
    """The test MCP server's environment: ``otel_cot.init()`` from OTEL_* variables, exporting to ``sink``."""
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": sink.url, "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
           "OTEL_SERVICE_NAME": "fib-server", "OTEL_BSP_SCHEDULE_DELAY": "50"}
    if not traced:
        env["OTEL_SDK_DISABLED"] = "true"
    if os.environ.get("PYTHONPATH"):
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    return env


@asynccontextmanager
async def in_process(server: Any) -> AsyncIterator[Any]:
    try:
        from mcp import Client
    except ImportError:  # mcp 1.x
        from mcp.shared.memory import create_connected_server_and_client_session

        async with create_connected_server_and_client_session(server) as session:
            yield session
        return
    async with Client(server) as client:
        yield client


def server_spans(sink: OtlpSink, trace_ids: set[str], expected: int, timeout: float = 10.0) -> list[dict[str, Any]]:
    """The server's spans in these traces, once ``expected`` of them have arrived (the server exports on exit)."""
    deadline = time.monotonic() + timeout
    while True:
        found = [s for s in sink.spans() if s["trace_id"] in trace_ids]
        if len(found) >= expected or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def dump(result: Any) -> dict[str, Any]:
    return result.model_dump(mode="json", by_alias=True, exclude_none=True)
