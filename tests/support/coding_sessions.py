"""Coding-agent session files for the reader and ``watch`` tests: the fixtures' paths, and long sessions made
deterministically (so no large file is checked in)."""

from __future__ import annotations

import json
import os
from time import time_ns
from typing import Iterator

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(__file__)), "fixtures", "coding_agents")


def fixture(*parts: str) -> str:
    return os.path.join(FIXTURES, *parts)


def lines_of(path: str) -> list[bytes]:
    with open(path, "rb") as fh:
        return fh.readlines()


def records_of(path: str) -> list[dict]:
    return [json.loads(line) for line in lines_of(path) if line.strip()]


def _ts(second: int) -> str:
    return f"2026-04-01T{8 + second // 3600:02d}:{second // 60 % 60:02d}:{second % 60:02d}.000Z"


def long_claude_session(turns: int, session: str = "0d0e0f10-1111-4222-8333-444455556666") -> Iterator[bytes]:
    """A Claude Code transcript of ``turns`` model turns, each a thinking block and a Bash call, then its result."""
    base = {"sessionId": session, "cwd": "/w", "version": "2.1.12", "isSidechain": False, "userType": "external"}
    yield _line({**base, "type": "user", "uuid": "u-0", "parentUuid": None, "timestamp": _ts(0),
                 "message": {"role": "user", "content": "Work through the backlog."}})
    for i in range(turns):
        mid, tid = f"msg_{i:06d}", f"toolu_{i:06d}"
        usage = {"input_tokens": 5, "output_tokens": 20, "cache_read_input_tokens": 1000 + i}
        message = {"id": mid, "type": "message", "role": "assistant", "model": "claude-sonnet-4-5", "usage": usage}
        yield _line({**base, "type": "assistant", "uuid": f"a-{i}", "timestamp": _ts(3 * i + 1), "message": {
            **message, "content": [{"type": "thinking", "thinking": f"Step {i}: list the files of batch {i}."}]}})
        yield _line({**base, "type": "assistant", "uuid": f"b-{i}", "timestamp": _ts(3 * i + 2), "message": {
            **message, "stop_reason": "tool_use",
            "content": [{"type": "tool_use", "id": tid, "name": "Bash", "input": {"command": f"ls batch{i}"}}]}})
        yield _line({**base, "type": "user", "uuid": f"r-{i}", "timestamp": _ts(3 * i + 3), "message": {
            "role": "user", "content": [{"type": "tool_result", "tool_use_id": tid, "content": f"file{i}.txt"}]}})


def _line(record: dict) -> bytes:
    return (json.dumps(record, separators=(",", ":")) + "\n").encode()


def shift_to_now(records: list[dict]) -> int:
    """The ns to add to ``records``' timestamps for the first one to be now (a backend shows recent traces)."""
    from otel_cot.coding_agents.reader import parse_time

    times = [t for t in (parse_time(r.get("timestamp")) for r in records) if t is not None]
    return time_ns() - min(times) if times else 0


def shifted(records: list[dict], shift_ns: int) -> list[dict]:
    """``records`` with every ``timestamp`` moved by ``shift_ns``."""
    from datetime import datetime, timezone

    from otel_cot.coding_agents.reader import parse_time

    out = []
    for record in records:
        ts = parse_time(record.get("timestamp"))
        if ts is not None:
            when = datetime.fromtimestamp((ts + shift_ns) / 1e9, tz=timezone.utc)
            record = {**record, "timestamp": when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"}
        out.append(record)
    return out
