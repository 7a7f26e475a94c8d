"""Gemini CLI recorded chats: ``~/.gemini/tmp/<project hash>/chats/session-<time>-<id>.json[l]``.

From google-gemini/gemini-cli ``packages/core/src/services/chatRecordingService.ts`` and
``chatRecordingTypes.ts``. A conversation is ``{sessionId, projectHash, startTime, lastUpdated, messages}``;
a message ``{id, timestamp, type: user | gemini | info | error | warning, content}``, and a ``gemini`` message
also ``thoughts`` (``[{subject, description, timestamp}]``: the thought summaries the model streamed before
it), ``toolCalls`` (``[{id, name, args, result, status, timestamp}]``), ``tokens`` (``{input, output, cached,
thoughts, tool, total}``) and ``model``.

Two file formats:

- ``.json`` (the recording service's first versions, 2025): the whole conversation, rewritten in place at
  every change. Read with :meth:`GeminiCliReader.feed_document`.
- ``.jsonl`` (later versions): the metadata on the first line, then every message as a line; a message that
  changes (its tool calls finish, its tokens arrive) is written again, whole, with the same ``id``.
  ``{"$set": {...}}`` lines update the metadata, ``{"$rewindTo": id}`` drops the messages from ``id`` on.
  Subagents write ``chats/<parent session id>/<session id>.jsonl`` with ``kind: "subagent"``.

The last ``gemini`` message may still change, so it becomes a model turn only when a message with another
id follows, or when the file is done. Versions without chat recording keep no reasoning on disk (nor do the
files hold the raw thought text: only the summaries Gemini CLI displays).
"""

from __future__ import annotations

import json
import os
from typing import Any, Mapping

from otel_cot import semconv as sc

from .model import GEMINI_CLI, Item, Message, ModelTurn, Reasoning, Scope, ToolRun, Usage
from .reader import SessionReader, add_ints, as_int, parse_time, text_of
from .tool_arguments import span_arguments

PROVIDER = "gcp.gemini"
_ERROR_STATUS = frozenset({"error", "cancelled"})
CLOSED_IDS = 32


def parent_session_from_path(path: str | None) -> str | None:
    """``chats/<parent id>/<id>.jsonl`` → ``<parent id>`` (a subagent's file)."""
    if not path:
        return None
    parent = os.path.basename(os.path.dirname(path))
    return None if parent == "chats" or not parent else parent


def _parts_text(content: Any) -> str:
    if isinstance(content, list):
        return "\n".join(p["text"] for p in content if isinstance(p, Mapping) and isinstance(p.get("text"), str))
    return text_of(content)


def _result_text(result: Any) -> str | None:
    """A tool call's ``result`` (Gemini parts: ``functionResponse.response.output`` / ``.error``, or text)."""
    if result is None:
        return None
    if isinstance(result, str):
        return result
    texts = []
    for part in result if isinstance(result, list) else [result]:
        if not isinstance(part, Mapping):
            continue
        response = part.get("functionResponse")
        if isinstance(response, Mapping):
            body = response.get("response")
            if isinstance(body, Mapping) and isinstance(body.get("output"), str):
                texts.append(body["output"])
            elif isinstance(body, Mapping) and isinstance(body.get("error"), str):
                texts.append(body["error"])
            else:
                texts.append(json.dumps(body, ensure_ascii=False, default=str))
        elif isinstance(part.get("text"), str):
            texts.append(part["text"])
    return "\n".join(texts)


class GeminiCliReader(SessionReader):
    agent = GEMINI_CLI

    def __init__(self, path: str | None = None) -> None:
        super().__init__(path)
        self._pending: dict[str, Any] | None = None  # the last gemini message, as last written
        self._inputs: list[Message] = []
        self._last_ns: int | None = None  # time of the last message that became final
        self._final = 0  # messages that became final (for whole-document files)
        self._closed: list[str] = []  # the ids of the last messages exported (a later copy of one is ignored)

    # --- records ---------------------------------------------------------------------------------------
    def feed(self, record: Mapping[str, Any]) -> list[Item]:
        if isinstance(record.get("$rewindTo"), str):
            if self._pending is not None and self._pending.get("id") == record["$rewindTo"]:
                self._pending = None
            return []
        if isinstance(record.get("$set"), Mapping):
            if isinstance(record["$set"].get("summary"), str):
                self.summary = record["$set"]["summary"]
            return []
        if isinstance(record.get("id"), str) and "type" in record:
            return self._message(record)
        if isinstance(record.get("sessionId"), str):
            self._metadata(record)
            return []
        return self.unknown(record.get("type", "record"))

    def feed_document(self, document: Mapping[str, Any]) -> list[Item]:
        """A whole ``.json`` conversation: the messages not yet final (the file is rewritten in place)."""
        self.stats.records += 1
        self._metadata(document)
        messages = document.get("messages")
        if not isinstance(messages, list):
            return self.unknown("document:no-messages")
        out: list[Item] = []
        for message in messages[self._final:]:
            if isinstance(message, Mapping):
                self.stats.records += 1
                try:
                    out.extend(self._message(message))
                except Exception:  # a shape this reader does not expect: skipped and counted
                    self.stats.unknown["unreadable record"] += 1
        return out

    def _metadata(self, meta: Mapping[str, Any]) -> None:
        self.saw(parse_time(meta.get("startTime")))
        if isinstance(meta.get("summary"), str):
            self.summary = meta["summary"]
        if self.scope is not None or not isinstance(meta.get("sessionId"), str):
            return
        session = meta["sessionId"]
        parent = parent_session_from_path(self.path) if meta.get("kind") == "subagent" else None
        if parent:
            self.scope = Scope(GEMINI_CLI, parent, agent_key=session, agent_name="subagent")
        else:
            self.scope = Scope(GEMINI_CLI, session, agent_name=GEMINI_CLI)

    def _message(self, message: Mapping[str, Any]) -> list[Item]:
        ts = parse_time(message.get("timestamp"))
        self.saw(ts)
        kind = message.get("type")
        if self._pending is not None and self._pending.get("id") == message.get("id"):
            if kind == "gemini":
                self._pending = dict(message)  # the same message, written again with more in it
            return []
        if message.get("id") in self._closed:  # written again after it was exported (the file was idle)
            self.stats.late_results += 1
            return []
        out = self._close()
        if kind == "gemini":
            self._pending = dict(message)
        elif kind == "user":
            self._inputs.append({"role": "user", "parts": [{"type": "text",
                                                            "content": _parts_text(message.get("content"))}]})
            self._final += 1
            self._last_ns = ts or self._last_ns
        elif kind in ("info", "error", "warning"):
            self._final += 1
        else:
            self._final += 1
            self.unknown(f"message {kind}")
        return out

    def _close(self) -> list[Item]:
        message, self._pending = self._pending, None
        if message is None:
            return []
        self._final += 1
        ts = parse_time(message.get("timestamp")) or self._last_ns or self.end_ns or 0
        key = str(message["id"])
        self._closed = (self._closed + [key])[-CLOSED_IDS:]
        turn = ModelTurn(key=key, agent_key=None, model=message.get("model") if isinstance(message.get("model"), str)
                         else None, provider=PROVIDER, start_ns=self._last_ns or ts, end_ns=ts,
                         input_messages=self._inputs)
        self._inputs = []
        previous = turn.start_ns
        for thought in message.get("thoughts") or ():
            if not isinstance(thought, Mapping):
                continue
            when = parse_time(thought.get("timestamp")) or ts
            subject, description = thought.get("subject") or "", thought.get("description") or ""
            text = f"{subject}\n{description}".strip() if subject and description else str(subject or description)
            turn.reasoning.append(Reasoning(text, sc.SOURCE_GEMINI_THOUGHT, False, previous, when))
            turn.output_parts.append({"type": "reasoning", "content": text})
            previous = when
        text = _parts_text(message.get("content"))
        if text:
            turn.output_parts.append({"type": "text", "content": text})
        tokens = message.get("tokens")
        if isinstance(tokens, Mapping):
            turn.usage = Usage(input_tokens=add_ints(tokens.get("input"), tokens.get("tool")),
                               output_tokens=add_ints(tokens.get("output"), tokens.get("thoughts")),
                               reasoning_tokens=as_int(tokens.get("thoughts")),
                               cache_read_tokens=as_int(tokens.get("cached")))
        runs: list[Item] = []
        for index, call in enumerate(message.get("toolCalls") or ()):
            if not isinstance(call, Mapping):
                continue
            call_id = str(call.get("id") or f"{key}#{index}")
            name, arguments = span_arguments(str(call.get("name") or "tool"), call.get("args"))
            turn.output_parts.append({"type": "tool_call", "id": call_id, "name": name, "arguments": arguments})
            result = _result_text(call.get("result"))
            end = parse_time(call.get("timestamp")) or ts
            runs.append(ToolRun(call_id, name, arguments, None, key, ts, max(end, ts), result,
                                call.get("status") in _ERROR_STATUS, result is not None))
            if result is not None:
                self._inputs.append({"role": "tool", "parts": [{"type": "tool_call_response", "id": call_id,
                                                                "response": result}]})
        self._last_ns = max((r.end_ns for r in runs), default=ts)  # type: ignore[union-attr]
        return [turn, *runs]

    def flush(self) -> list[Item]:
        try:
            return self._close()
        except Exception:  # the last message was of a shape this reader does not expect
            self.stats.unknown["unreadable record"] += 1
            return []

    # --- state across restarts ---------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        state = super().snapshot()
        state.update(pending=self._pending, inputs=self._inputs, last_ns=self._last_ns, final=self._final,
                     closed=self._closed)
        return state

    def restore(self, state: Mapping[str, Any]) -> None:
        super().restore(state)
        self._pending = state.get("pending")
        self._inputs = list(state.get("inputs") or [])
        self._last_ns = state.get("last_ns")
        self._final = int(state.get("final") or 0)
        self._closed = list(state.get("closed") or [])
