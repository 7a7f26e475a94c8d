"""A small MCP server for the tests. Run as a script, it serves stdio and exports its spans over OTLP
(``OTEL_EXPORTER_OTLP_ENDPOINT``) through ``otel_cot.init()``."""

from __future__ import annotations

from typing import Any

from mcp.types import CallToolResult, TextContent

try:
    from mcp.server.mcpserver import Context, MCPServer
except ImportError:  # mcp 1.x
    from mcp.server.fastmcp import Context  # type: ignore[no-redef]
    from mcp.server.fastmcp import FastMCP as MCPServer  # type: ignore[no-redef]

NAME = "fib-server"
TRACE_CONTEXT_KEYS = {"traceparent", "tracestate", "baggage"}


def fib(n: int) -> int:
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a


def build() -> Any:
    server = MCPServer(NAME)

    @server.tool()
    def compute_fib(n: int) -> int:
        """Compute the nth Fibonacci number (1-indexed)."""
        return fib(n)

    @server.tool()
    def divide(a: float, b: float) -> float:
        """Divide a by b."""
        return a / b

    @server.tool()
    def run_command(command: str) -> str:
        """Run a shell command (a stand-in: it only echoes, the tests never execute anything)."""
        return f"ran: {command}"

    @server.tool()
    def reject(reason: str) -> CallToolResult:
        """Answer with an error result."""
        return CallToolResult(content=[TextContent(type="text", text=reason)], isError=True)

    @server.tool()
    def update_plan(plan: str) -> str:
        """Record the current plan (the tool the recorded Agents SDK run calls)."""
        return f"plan updated ({len(plan.splitlines())} steps)"

    @server.tool()
    def request_meta(ctx: Context) -> list[str]:
        """The keys of this request's params._meta, but for the trace context."""
        meta = ctx.request_context.meta
        if meta is not None and not isinstance(meta, dict):  # mcp 1.x: a pydantic model
            meta = meta.model_dump(exclude_none=True)
        return sorted(set(meta or {}) - TRACE_CONTEXT_KEYS)

    return server


if __name__ == "__main__":
    import otel_cot

    otel_cot.init(instrument=["mcp"])
    try:
        build().run("stdio")
    finally:
        otel_cot.shutdown()
