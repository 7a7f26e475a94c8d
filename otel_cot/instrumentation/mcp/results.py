"""A tools/call result as the value we record (its text content, and its structured content if any), and the
end of a tool call's span with it."""

from __future__ import annotations

from typing import Any

from ...internal_errors import report_internal_error
from ..tools import ToolCall
from ._common import field


def _block_text(block: Any) -> str:
    kind = field(block, "type")
    if kind == "text":
        return str(field(block, "text") or "")
    if kind == "resource":
        resource = field(block, "resource")
        text = field(resource, "text")
        return str(text) if text is not None else f"[resource {field(resource, 'uri')}]"
    if kind == "resource_link":
        return f"[resource_link {field(block, 'uri')}]"
    mime = field(block, "mime_type", "mimeType")  # image / audio: the bytes are not worth a span attribute
    return f"[{kind} {mime}]" if mime else f"[{kind}]"


def tool_result(result: Any) -> tuple[Any, bool]:
    """(value to record, is an error result). The value is None for what is not a tool result."""
    if isinstance(result, tuple) and len(result) == 2 and isinstance(result[1], dict):
        blocks, structured, is_error = result[0], result[1], False  # mcp 1.x FastMCP: (content, structured)
    elif isinstance(result, (list, tuple)):
        blocks, structured, is_error = result, None, False  # mcp 1.x FastMCP: content blocks
    else:
        blocks = field(result, "content")
        if not isinstance(blocks, (list, tuple)):
            return None, False
        structured = field(result, "structured_content", "structuredContent")
        is_error = field(result, "is_error", "isError") is True
    text = "\n".join(_block_text(block) for block in blocks)
    if structured is None:
        return text, is_error
    return {"content": text, "structuredContent": structured}, is_error


def end_tool_call(call: ToolCall, result: Any, error: BaseException | None, side: str) -> None:
    """End ``call``'s span: failed with ``error``, else finished with ``result``'s value. Never raises (``side``,
    client or server, names the place in an internal-error report)."""
    try:
        if error is not None:
            call.fail(error)
            return
        value, is_error = tool_result(result)
    except Exception as exc:
        report_internal_error(f"mcp {side} tool result", exc)
        value, is_error = None, False
    try:
        call.finish(value, is_error=is_error)
    except Exception as exc:
        report_internal_error(f"mcp {side} tool end", exc)
