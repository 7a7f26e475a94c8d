"""Codex CLI rollouts: ``~/.codex/sessions/YYYY/MM/DD/rollout-<time>-<uuid>.jsonl`` (``$CODEX_HOME``).

From openai/codex ``codex-rs/protocol`` (``RolloutLine``, ``RolloutItem``, ``ResponseItem``, ``EventMsg``):
every line is ``{"timestamp", "type", "payload"}`` with ``type`` one of

- ``session_meta``: ``id`` (the session), ``cwd``, ``cli_version``, ``source`` (a subagent names its parent
  thread in ``source.subagent.thread_spawn.parent_thread_id``);
- ``response_item``: the model's input and output items. ``message`` (``role``, ``content`` of
  ``input_text`` / ``output_text``), ``reasoning`` (``summary`` of ``summary_text``; ``content`` of
  ``reasoning_text`` when the model returns it; ``encrypted_content``, which is never decoded — such a block
  is a reasoning span marked ``cot.reasoning.redacted``), ``function_call`` (``name``, ``arguments`` as a JSON
  string, ``call_id``) / ``function_call_output``, ``custom_tool_call`` (``input`` text, e.g. ``apply_patch``)
  / ``custom_tool_call_output``, ``local_shell_call`` (``action.command`` argv), ``web_search_call``;
- ``event_msg``: runtime events; ``token_count`` gives the usage of the model call that just ended,
  ``task_complete`` ends a turn. The others repeat response items or are UI events: read, not used;
- ``turn_context``: per turn, the ``model``; ``compacted``: the summary that replaced the history.

Older rollouts (the spring 2025 releases, e.g. ``codex-rs/core/src/rollout.rs`` at 89a151f5) had no wrapper: the first line is the session
(``{"id", "timestamp", "instructions", "git"}``), then bare response items and ``{"record_type": "state"}``
lines, with no time per line and, in the first versions, no reasoning at all. Their items get the session's
time plus one microsecond per line (only their order is real).

One model turn (a ``chat`` span) is the run of output items between two inputs; its usage is the
``token_count`` that follows.
"""

from __future__ import annotations

import os
import re
from typing import Any, Mapping

from otel_cot import semconv as sc

from .model import CODEX, Item, Message, ModelTurn, Reasoning, Scope, ToolRun, Usage
from .reader import SessionReader, as_int, parse_time, text_of, tool_from_dict, tool_to_dict, turn_from_dict, turn_to_dict
from .tool_arguments import parse_json, span_arguments

PROVIDER = "openai"
_UUID = re.compile(r"([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.jsonl$", re.IGNORECASE)
_OUTPUT = frozenset({"reasoning", "function_call", "custom_tool_call", "local_shell_call", "web_search_call"})
_INPUT = frozenset({"function_call_output", "custom_tool_call_output", "local_shell_call_output"})
_KNOWN_ITEMS = frozenset({"ghost_snapshot", "compaction", "compaction_summary", "image_generation_call",
                          "tool_search_call", "tool_search_output", "other"})
_WRAPPED = frozenset({"session_meta", "response_item", "event_msg", "turn_context", "compacted"})
MAX_PENDING_TOOLS = 256


def session_from_path(path: str | None) -> str | None:
    m = _UUID.search(os.path.basename(path or ""))
    return m.group(1) if m else None


class CodexReader(SessionReader):
    agent = CODEX

    def __init__(self, path: str | None = None) -> None:
        super().__init__(path)
        self._model: str | None = None
        self._open: ModelTurn | None = None  # output items of the model call in progress
        self._done: ModelTurn | None = None  # a finished call waiting for its token_count
        self._usage_seen = False  # the open call already has its token_count
        self._inputs: list[Message] = []
        self._compaction = False
        self._tools: dict[str, ToolRun] = {}
        self._last_ns: int | None = None
        self._input_ns: int | None = None  # when the last input (a tool output, a prompt) was written
        self._legacy_ns: int | None = None  # old format: the session's time; items count up from it
        self._position = 0

    # --- records ---------------------------------------------------------------------------------------
    def feed(self, record: Mapping[str, Any]) -> list[Item]:
        self._position += 1
        kind = record.get("type")
        if kind in _WRAPPED and "payload" in record:
            ts = parse_time(record.get("timestamp"))
            payload = record["payload"] if isinstance(record["payload"], Mapping) else {}
            self._at(ts)
            if kind == "session_meta":
                self._session(payload, parse_time(payload.get("timestamp")))
                return []
            if kind == "turn_context":
                if isinstance(payload.get("model"), str):
                    self._model = payload["model"]
                return []
            if kind == "compacted":
                self._compaction = True
                self._inputs.append(_user_text(str(payload.get("message") or "")))
                return self._close_open()
            if kind == "event_msg":
                return self._event(payload)
            return self._item(payload)
        if "record_type" in record:  # old format: state snapshots
            return []
        if kind is None and "id" in record and "timestamp" in record:  # old format: the session line
            self._legacy_ns = parse_time(record.get("timestamp"))
            self._session(record, self._legacy_ns)
            self._at(self._legacy_ns)
            return []
        if isinstance(kind, str) and (kind in _OUTPUT or kind in _INPUT or kind in _KNOWN_ITEMS
                                      or kind == "message"):
            if self._legacy_ns is not None:
                self._at(self._legacy_ns + self._position * 1000)
            return self._item(record)
        return self.unknown(kind)

    def _at(self, ts: int | None) -> None:
        if ts is not None:
            self.saw(ts)
            self._last_ns = ts

    def _now(self) -> int:
        return self._last_ns or self.end_ns or 0

    def _session(self, meta: Mapping[str, Any], ts: int | None) -> None:
        self.saw(ts)
        session = str(meta.get("id") or session_from_path(self.path) or "")
        if not session or self.scope is not None:
            return
        source = meta.get("source")
        spawn = source.get("subagent", {}).get("thread_spawn") if isinstance(source, Mapping) and isinstance(
            source.get("subagent"), Mapping) else None
        if isinstance(spawn, Mapping) and spawn.get("parent_thread_id"):
            name = spawn.get("agent_nickname") or spawn.get("agent_role") or meta.get("agent_nickname") or "subagent"
            self.scope = Scope(CODEX, str(spawn["parent_thread_id"]), agent_key=session, agent_name=str(name))
        else:
            self.scope = Scope(CODEX, session, agent_name=CODEX)

    def _event(self, payload: Mapping[str, Any]) -> list[Item]:
        kind = payload.get("type")
        if kind == "token_count":
            info = payload.get("info")
            last = info.get("last_token_usage") if isinstance(info, Mapping) else None
            if isinstance(last, Mapping):
                return self._usage(last)
            return []
        if kind in ("task_complete", "turn_complete", "turn_aborted"):
            return self._close_open() + self._emit_done()
        return []

    def _usage(self, last: Mapping[str, Any]) -> list[Item]:
        usage = Usage(input_tokens=as_int(last.get("input_tokens")), output_tokens=as_int(last.get("output_tokens")),
                      reasoning_tokens=as_int(last.get("reasoning_output_tokens")),
                      cache_read_tokens=as_int(last.get("cached_input_tokens")))
        if self._open is not None and not self._usage_seen:
            self._open.usage, self._usage_seen = usage, True
            return []
        if self._done is not None:
            self._done.usage = usage
            return self._emit_done()
        return []

    # --- response items ----------------------------------------------------------------------------------
    def _item(self, item: Mapping[str, Any]) -> list[Item]:
        kind = item.get("type")
        now = self._now()
        if kind == "message":
            role = item.get("role")
            text = text_of(item.get("content"))
            if role == "assistant":
                turn, out = self._turn(now)
                turn.output_parts.append({"type": "text", "content": text})
                return out
            out = self._close_open()
            self._inputs.append({"role": "user" if role == "user" else "system",
                                 "parts": [{"type": "text", "content": text}]})
            return out
        if kind == "reasoning":
            turn, out = self._turn(now)
            self._reasoning(turn, item, now)
            return out
        if kind in ("function_call", "custom_tool_call", "local_shell_call"):
            turn, out = self._turn(now)
            out.extend(self._call(turn, item, now))
            return out
        if kind == "web_search_call":
            turn, out = self._turn(now)
            turn.output_parts.append({"type": "tool_call", "name": "web_search", "server": True,
                                      "arguments": item.get("action")})
            return out
        if kind in _INPUT:
            return self._close_open() + self._output(item, now)
        if kind in ("compaction", "compaction_summary"):
            self._compaction = True
        return []

    def _turn(self, now: int) -> tuple[ModelTurn, list[Item]]:
        out: list[Item] = []
        if self._open is not None and self._usage_seen:  # a token_count ended that call: this is the next one
            out = self._close_open()
        if self._open is None:
            out.extend(self._emit_done())
            start = self._input_ns if self._input_ns is not None else now
            self._open = ModelTurn(key=f"turn@{self._position}", agent_key=None, model=self._model,
                                   provider=PROVIDER, start_ns=start, end_ns=now, input_messages=self._inputs,
                                   compaction=self._compaction)
            self._inputs, self._compaction, self._usage_seen = [], False, False
        self._open.end_ns = max(self._open.end_ns, now)
        return self._open, out

    def _reasoning(self, turn: ModelTurn, item: Mapping[str, Any], now: int) -> None:
        start = turn.reasoning[-1].end_ns if turn.reasoning else turn.start_ns
        summary = [s.get("text") for s in item.get("summary") or () if isinstance(s, Mapping)
                   and isinstance(s.get("text"), str)]
        content = [c.get("text") for c in item.get("content") or () if isinstance(c, Mapping)
                   and isinstance(c.get("text"), str)]
        if summary:
            text, source = "\n\n".join(summary), sc.SOURCE_OPENAI_SUMMARY
        elif content:
            text, source = "\n\n".join(content), sc.SOURCE_OPENAI_REASONING_TEXT
        elif item.get("encrypted_content"):
            turn.reasoning.append(Reasoning(None, sc.SOURCE_OPENAI_ENCRYPTED, True, start, now))
            turn.output_parts.append({"type": "reasoning", "redacted": True})
            return
        else:
            return
        turn.reasoning.append(Reasoning(text, source, False, start, now))
        turn.output_parts.append({"type": "reasoning", "content": text})

    def _call(self, turn: ModelTurn, item: Mapping[str, Any], now: int) -> list[Item]:
        kind = item.get("type")
        call_id = str(item.get("call_id") or item.get("id") or f"call@{self._position}")
        if kind == "local_shell_call":
            action = item.get("action") if isinstance(item.get("action"), Mapping) else {}
            raw: Any = {"command": action.get("command"), "workdir": action.get("working_directory"),
                        "timeout_ms": action.get("timeout_ms")}
            raw = {k: v for k, v in raw.items() if v is not None}
            name = "local_shell"
        elif kind == "custom_tool_call":
            raw, name = item.get("input"), str(item.get("name") or "custom_tool")
        else:
            raw, name = parse_json(item.get("arguments")), str(item.get("name") or "function")
        name, arguments = span_arguments(name, raw)
        turn.output_parts.append({"type": "tool_call", "id": call_id, "name": name, "arguments": arguments})
        self._tools[call_id] = ToolRun(call_id, name, arguments, None, turn.key, now)
        if len(self._tools) > MAX_PENDING_TOOLS:
            return [self._tools.pop(next(iter(self._tools)))]
        return []

    def _output(self, item: Mapping[str, Any], now: int) -> list[Item]:
        call_id = str(item.get("call_id") or "")
        output = item.get("output")
        error = False
        if isinstance(output, Mapping):  # {"content", "success"} (failures, and some versions always)
            error = output.get("success") is False
            output = output.get("content")
        text = text_of(output)
        self._inputs.append({"role": "tool", "parts": [{"type": "tool_call_response", "id": call_id,
                                                        "response": text}]})
        self._input_ns = now
        run = self._tools.pop(call_id, None)
        if run is None:
            self.stats.late_results += 1
            return []
        run.result, run.error, run.has_result, run.end_ns = text, error, True, max(now, run.start_ns)
        return [run]

    # --- closing model turns -----------------------------------------------------------------------------
    def _close_open(self) -> list[Item]:
        """The output items are over (an input came): the call waits for its token_count, if it has none."""
        turn, self._open = self._open, None
        self._input_ns = self._now()
        if turn is None:
            return []
        out = self._emit_done()
        if self._usage_seen:
            self._usage_seen = False
            return out + [turn]
        self._done = turn
        return out

    def _emit_done(self) -> list[Item]:
        turn, self._done = self._done, None
        return [turn] if turn is not None else []

    def flush(self) -> list[Item]:
        out = self._close_open() + self._emit_done()
        out.extend(self._tools.values())
        self._tools.clear()
        return out

    # --- state across restarts ---------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        state = super().snapshot()
        state.update(model=self._model, open=turn_to_dict(self._open) if self._open else None,
                     done=turn_to_dict(self._done) if self._done else None, usage_seen=self._usage_seen,
                     inputs=self._inputs, compaction=self._compaction, last_ns=self._last_ns,
                     input_ns=self._input_ns, legacy_ns=self._legacy_ns, position=self._position,
                     tools=[tool_to_dict(run) for run in self._tools.values()])
        return state

    def restore(self, state: Mapping[str, Any]) -> None:
        super().restore(state)
        self._model = state.get("model")
        self._open = turn_from_dict(state["open"]) if state.get("open") else None
        self._done = turn_from_dict(state["done"]) if state.get("done") else None
        self._usage_seen = bool(state.get("usage_seen"))
        self._inputs = list(state.get("inputs") or [])
        self._compaction = bool(state.get("compaction"))
        self._last_ns, self._input_ns = state.get("last_ns"), state.get("input_ns")
        self._legacy_ns, self._position = state.get("legacy_ns"), int(state.get("position") or 0)
        self._tools = {run["call_id"]: tool_from_dict(run) for run in state.get("tools") or ()}


def _user_text(text: str) -> Message:
    return {"role": "user", "parts": [{"type": "text", "content": text}]}
