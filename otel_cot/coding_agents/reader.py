"""What every session reader shares: line parsing, timestamps, counters, and a state that survives restarts.

A reader is fed one agent's session file record by record (``feed_line``) and returns the items that became
complete (:mod:`.model`); ``flush`` returns what is still open (the file is finished, or idle). Everything it
holds between calls (the open model turn, tool calls waiting for their result, the session's scope) is small
and can be saved with ``snapshot`` and put back with ``restore``, so ``otel-cot watch`` resumes a file where it
stopped without reading it again.

Formats change without notice: a record of a type the reader does not know is skipped and counted in
``stats.unknown``, a line that is not JSON in ``stats.malformed``; neither is ever an error.
"""

from __future__ import annotations

import calendar
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Mapping

from .model import Item, ModelTurn, Reasoning, Scope, SubagentEnd, ToolRun, Usage

_ISO = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:?\d{2})?$")


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
_SURROGATE_ESCAPE_BYTES = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
_SURROGATE = re.compile("[\ud800-\udfff]")


def loads(text: str | bytes) -> Any:
    """``json.loads``, with half a surrogate pair that has no other half (``"\\ud800"``: JSON allows it) made
    U+FFFD: UTF-8 cannot encode it, so the OTLP encoder would drop the attribute holding it, and a file write or
    a hash of it would raise."""
    value = json.loads(text)
    pattern = _SURROGATE_ESCAPE if isinstance(text, str) else _SURROGATE_ESCAPE_BYTES
    return _without_surrogates(value) if pattern.search(text) else value  # type: ignore[arg-type]


def _without_surrogates(value: Any) -> Any:
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [_without_surrogates(v) for v in value]
    if isinstance(value, dict):
        return {_without_surrogates(k): _without_surrogates(v) for k, v in value.items()}
    return value


def parse_time(value: Any) -> int | None:
    """An ISO 8601 timestamp (``2026-01-20T11:57:17.716Z``) or epoch seconds/ms as ns since the epoch."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = value / 1000 if value > 1e11 else value
        return int(seconds * 1_000_000_000)
    if not isinstance(value, str):
        return None
    m = _ISO.match(value.strip())
    if not m:
        return None
    try:
        base = datetime.fromisoformat(m.group(1) + (m.group(3) or "Z").replace("Z", "+00:00"))
    except ValueError:
        return None
    fraction = (m.group(2) or "0").ljust(9, "0")[:9]
    return calendar.timegm(base.utctimetuple()) * 1_000_000_000 + int(fraction)


@dataclass
class ReadStats:
    records: int = 0
    malformed: int = 0
    unknown: Counter = field(default_factory=Counter)  # record type -> count
    late_results: int = 0  # a tool result whose call was already exported without one

    def merge(self, other: "ReadStats") -> None:
        self.records += other.records
        self.malformed += other.malformed
        self.unknown.update(other.unknown)
        self.late_results += other.late_results


class SessionReader:
    """Base of the per-agent readers. Subclasses implement ``feed`` (one parsed record), ``flush`` and the
    agent-specific parts of ``snapshot``/``restore``."""

    agent = ""

    def __init__(self, path: str | None = None) -> None:
        self.path = path
        self.scope: Scope | None = None
        self.start_ns: int | None = None
        self.end_ns: int | None = None
        self.summary: str | None = None
        self.stats = ReadStats()

    # --- input ------------------------------------------------------------------------------------
    def feed_line(self, line: bytes | str) -> list[Item]:
        """One complete line of the file (its newline may be there or not)."""
        text = line.decode("utf-8", "replace") if isinstance(line, bytes) else line
        if not text.strip():
            return []
        try:
            record = loads(text)
        except ValueError:
            self.stats.malformed += 1
            return []
        if not isinstance(record, dict):
            self.stats.malformed += 1
            return []
        self.stats.records += 1
        try:
            return self.feed(record)
        except Exception:  # a known record type in a shape this reader does not expect: skipped and counted
            self.stats.unknown["unreadable record"] += 1
            return []

    def feed(self, record: Mapping[str, Any]) -> list[Item]:
        raise NotImplementedError

    def flush(self) -> list[Item]:
        """Everything still open, as if the file had ended."""
        raise NotImplementedError

    def unknown(self, kind: Any) -> list[Item]:
        self.stats.unknown[str(kind)] += 1
        return []

    def saw(self, ns: int | None) -> None:
        if ns is None:
            return
        if self.start_ns is None or ns < self.start_ns:
            self.start_ns = ns
        if self.end_ns is None or ns > self.end_ns:
            self.end_ns = ns

    # --- state across restarts ------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        return {"scope": self.scope.as_dict() if self.scope else None, "start_ns": self.start_ns,
                "end_ns": self.end_ns, "summary": self.summary}

    def restore(self, state: Mapping[str, Any]) -> None:
        self.scope = Scope.from_dict(state["scope"]) if state.get("scope") else None
        self.start_ns = state.get("start_ns")
        self.end_ns = state.get("end_ns")
        self.summary = state.get("summary")


# --- (de)serialising the open items -------------------------------------------------------------------
def turn_to_dict(turn: ModelTurn) -> dict[str, Any]:
    data = {name: getattr(turn, name) for name in ModelTurn.__slots__}  # type: ignore[attr-defined]
    data["reasoning"] = [{n: getattr(r, n) for n in Reasoning.__slots__} for r in turn.reasoning]  # type: ignore[attr-defined]
    data["usage"] = {n: getattr(turn.usage, n) for n in Usage.__slots__}  # type: ignore[attr-defined]
    return data


def turn_from_dict(data: Mapping[str, Any]) -> ModelTurn:
    values = dict(data)
    values["reasoning"] = [Reasoning(**r) for r in values.get("reasoning", ())]
    values["usage"] = Usage(**values.get("usage", {}))
    return ModelTurn(**values)


def tool_to_dict(run: ToolRun) -> dict[str, Any]:
    return {name: getattr(run, name) for name in ToolRun.__slots__}  # type: ignore[attr-defined]


def tool_from_dict(data: Mapping[str, Any]) -> ToolRun:
    return ToolRun(**data)


def subagent_to_dict(end: SubagentEnd) -> dict[str, Any]:
    return {name: getattr(end, name) for name in SubagentEnd.__slots__}  # type: ignore[attr-defined]


def text_of(content: Any) -> str:
    """The text of a message content that may be a string, a list of text blocks/parts, or something else."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for block in content:
            if isinstance(block, str):
                texts.append(block)
            elif isinstance(block, Mapping) and isinstance(block.get("text"), str):
                texts.append(block["text"])
        return "\n".join(texts)
    if isinstance(content, Mapping) and isinstance(content.get("text"), str):
        return content["text"]
    return json.dumps(content, ensure_ascii=False, default=str)


def as_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def add_ints(*values: Any) -> int | None:
    ints = [v for v in map(as_int, values) if v is not None]
    return sum(ints) if ints else None
