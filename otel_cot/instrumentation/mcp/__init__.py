"""MCP instrumentation (the ``mcp`` package, 1.x and 2.x): tool calls as ``execute_tool {tool}`` spans on
the client and on the server, with W3C trace context carried in the request's ``params._meta`` so both
sides share one trace.

mcp 2.x traces its own requests; for the tools/call requests we trace, our span takes the SDK's
attributes and stands in for its span, so each side shows exactly one span per tool call.
"""

from __future__ import annotations

from typing import Any, Callable

from .._base import CotInstrumentor, Telemetry
from . import client, server
from ._common import absorb_sdk_span
from .package import _instruments

__all__ = ["MCPInstrumentor"]


class MCPInstrumentor(CotInstrumentor):
    _package = _instruments

    def _targets(self, telemetry: Telemetry) -> list[tuple[str, str, Callable[..., Any]]]:
        call_tool = client.call_tool_wrapper(telemetry)
        handler = server.handler_wrapper(telemetry)
        return [
            ("mcp.client.session", "ClientSession.initialize", client.initialize_wrapper),
            ("mcp.client.session", "ClientSession.call_tool", call_tool),
            ("mcp.client.client", "Client.call_tool", call_tool),  # 2.x
            ("mcp.shared.session", "BaseSession.send_request", client.send_request_wrapper),  # 1.x
            ("mcp.shared.jsonrpc_dispatcher", "otel_span", absorb_sdk_span(client.CALL_KEY)),  # 2.x
            ("mcp.server._otel", "OpenTelemetryMiddleware.__call__", server.middleware_wrapper(telemetry)),  # 2.x
            ("mcp.server._otel", "otel_span", absorb_sdk_span(server.CALL_KEY)),  # 2.x
            ("mcp.server.mcpserver.server", "MCPServer.call_tool", handler),  # 2.x
            ("mcp.server.fastmcp.server", "FastMCP.call_tool", handler),  # 1.x
        ]
