"""Read a whole session file into spans: the pure entry point of the readers.

    from otel_cot.coding_agents.session import read_session_file

    result = read_session_file("claude_code", "~/.claude/projects/-home-me-repo/<session>.jsonl")
    result.spans     # ReadableSpans: invoke_agent root, chat + reasoning per model turn, execute_tool per call
    result.stats     # records read, unknown record types (counted, skipped), malformed lines, torn last line

The same lines always give the same spans (ids derived from the session, times from the file).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

from opentelemetry.sdk.trace import ReadableSpan

from otel_cot.config import Settings
from otel_cot.detectors.exporter import record_from_span
from otel_cot.detectors.views import SpanRecord

from .claude_code import ClaudeCodeReader
from .codex import CodexReader
from .gemini_cli import GeminiCliReader
from .model import CLAUDE_CODE, CODEX, GEMINI_CLI, Item, ModelTurn, Scope, SubagentEnd, ToolRun
from .reader import ReadStats, SessionReader, loads
from .spans import SpanBuilder

READERS: dict[str, type[SessionReader]] = {CLAUDE_CODE: ClaudeCodeReader, CODEX: CodexReader,
                                           GEMINI_CLI: GeminiCliReader}


def make_reader(agent: str, path: str | None = None) -> SessionReader:
    try:
        return READERS[agent](path)
    except KeyError:
        raise ValueError(f"unknown agent {agent!r} (one of {', '.join(READERS)})") from None


def spans_of(builder: SpanBuilder, scope: Scope, items: Iterable[Item]) -> list[ReadableSpan]:
    """The spans of the readers' items, in the order the items came."""
    out: list[ReadableSpan] = []
    for item in items:
        if isinstance(item, ModelTurn):
            out.extend(builder.turn(scope, item))
        elif isinstance(item, ToolRun):
            out.append(builder.tool(scope, item))
        elif isinstance(item, SubagentEnd):
            out.append(builder.subagent(scope, item))
    return out


def span_records(spans: Iterable[ReadableSpan]) -> list[SpanRecord]:
    """The detector engine's view of ``spans``, in the order they ended (the order the engine judges in)."""
    ordered = sorted(spans, key=lambda s: (s.end_time or 0, s.start_time or 0))
    return [record_from_span(span) for span in ordered]


def root_of(builder: SpanBuilder, reader: SessionReader) -> ReadableSpan | None:
    """The file's ``invoke_agent`` span, from the first to the last record time; None before any record."""
    if reader.scope is None or reader.start_ns is None:
        return None
    return builder.root(reader.scope, reader.start_ns, reader.end_ns or reader.start_ns, summary=reader.summary)


@dataclass
class SessionRead:
    spans: list[ReadableSpan] = field(default_factory=list)
    stats: ReadStats = field(default_factory=ReadStats)
    torn: bool = False  # the last line had no newline: still being written, or cut; it was not read
    scope: Scope | None = None


def read_session_lines(agent: str, lines: Iterable[bytes | str], *, path: str | None = None,
                       settings: Settings | None = None, finished: bool = True) -> SessionRead:
    """The spans of one session file given as its lines (each with its newline, as ``open(...)`` yields them).

    ``finished``: also export what is still open (the last model turn, tool calls without a result) and the
    root span, as at the end of a session. A last line without a newline is not read (``torn``).
    For Gemini CLI's older whole-document ``.json`` files use :func:`read_session_file`.
    """
    reader = make_reader(agent, path)
    builder = SpanBuilder(settings)
    items: list[Item] = []
    torn = False
    for line in lines:
        raw = line.encode("utf-8") if isinstance(line, str) else line
        if not raw.endswith(b"\n"):
            torn = bool(raw.strip())
            break
        items.extend(reader.feed_line(raw))
    return _finish(reader, builder, items, finished, torn)


def read_session_file(agent: str, path: str, *, settings: Settings | None = None,
                      finished: bool = True) -> SessionRead:
    if agent == GEMINI_CLI and path.endswith(".json"):
        reader = make_reader(agent, path)
        with open(path, "rb") as fh:
            raw = fh.read()
        try:
            document = loads(raw)
        except ValueError:  # caught half-written
            return SessionRead(torn=True)
        items = reader.feed_document(document)  # type: ignore[attr-defined]
        return _finish(reader, SpanBuilder(settings), items, finished, False)
    with open(path, "rb") as fh:
        return read_session_lines(agent, fh, path=path, settings=settings, finished=finished)


def _finish(reader: SessionReader, builder: SpanBuilder, items: list[Item], finished: bool,
            torn: bool) -> SessionRead:
    if finished:
        items.extend(reader.flush())
    result = SessionRead(stats=reader.stats, torn=torn, scope=reader.scope)
    if reader.scope is None:
        return result
    result.spans = spans_of(builder, reader.scope, items)
    if finished:
        root = root_of(builder, reader)
        if root is not None:
            result.spans.append(root)
    return result
