"""Coding agents that export OTLP logs without code changes: Claude Code, Codex CLI, Gemini CLI.

One module per agent turns its log records into detector views grouped by session
(see docs/coding-agents.md); :func:`register` puts them on the ``LogMappers`` seam.
"""

from __future__ import annotations

from ..log_views import LogMappers
from . import claude_code, codex, gemini_cli

MAPPERS = (claude_code.map_record, codex.map_record, gemini_cli.map_record)


def register(mappers: LogMappers) -> LogMappers:
    for mapper in MAPPERS:
        mappers.register(mapper)
    return mappers


def agent_log_mappers() -> LogMappers:
    """A ``LogMappers`` with the three agents registered before the generic fallback."""
    return register(LogMappers())
