"""Coding agents' own session files (Claude Code, Codex CLI, Gemini CLI) as the SDK's spans.

The stable API (imported lazily, so ``import otel_cot.coding_agents`` is cheap):

- :func:`read_session_file` / :func:`read_session_lines` (``agent, path | lines, settings=, finished=``) →
  :class:`SessionRead` (``spans``: finished ``ReadableSpan``s; ``stats``; ``torn``; ``scope``).
- :func:`span_records`: those spans as the detector engine's ``SpanRecord``s, in the order they ended.
- :func:`make_reader` (``agent, path``) → an incremental reader: ``feed_line(bytes) -> items``, ``flush()``,
  ``snapshot()`` / ``restore(state)``; :class:`SpanBuilder` and :func:`spans_of` / :func:`root_of` turn its
  items into spans.
- :func:`span_arguments` (``tool, arguments`` → ``(tool, arguments)`` as the spans and detectors carry them).
- :func:`trace_id`, :func:`span_id`: the derived ids; :data:`AGENTS`: ``claude_code``, ``codex``, ``gemini_cli``.
- :func:`default_dirs`, :func:`session_files`: where each agent keeps its sessions.

A session in progress: ``read_session_file(..., finished=True)`` includes the open model turn (the one whose
tool call is pending, with its reasoning) and calls without a result; ``finished=False`` leaves them out. To
read only what was appended since last time, keep ``reader.snapshot()`` and the byte offset, and feed the new
complete lines to a reader restored from it (what ``otel-cot watch`` does).
"""

from __future__ import annotations

from typing import Any

_EXPORTS = {
    "read_session_file": ".session", "read_session_lines": ".session", "SessionRead": ".session",
    "span_records": ".session", "make_reader": ".session", "spans_of": ".session", "root_of": ".session",
    "SpanBuilder": ".spans", "trace_id": ".spans", "span_id": ".spans",
    "span_arguments": ".tool_arguments", "normalise_tool": ".tool_arguments",
    "default_dirs": ".sources", "session_files": ".sources",
    "AGENTS": ".model", "CLAUDE_CODE": ".model", "CODEX": ".model", "GEMINI_CLI": ".model",
    "ModelTurn": ".model", "ToolRun": ".model", "Scope": ".model",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(name)
    from importlib import import_module

    return getattr(import_module(module, __name__), name)
