"""Claude Code transcripts: ``~/.claude/projects/<escaped cwd>/<session id>.jsonl``, one JSON record per line.

The format is not documented by Anthropic; this follows transcripts of Claude Code 1.0.x–2.1.x as described
by the open-source readers of them (tests/fixtures/coding_agents/README.md names the ones used):

- ``{"type": "user" | "assistant", "uuid", "parentUuid", "sessionId", "timestamp", "isSidechain",
  "message": {...}}``. An assistant ``message`` is the API's (``id``, ``model``, ``content``, ``usage``,
  ``stop_reason``); Claude Code writes each content block of a streamed message as its own record, so several
  records share one ``message.id``: they make one model turn. Blocks: ``thinking`` (``thinking``, ``signature``),
  ``redacted_thinking`` (``data``, never decoded), ``text``, ``tool_use`` (``id``, ``name``, ``input``),
  ``server_tool_use``.
- A user ``message.content`` is the prompt (a string, or ``text`` blocks) or ``tool_result`` blocks
  (``tool_use_id``, ``content``, ``is_error``). ``isMeta`` marks text the harness added (not the user's);
  ``isCompactSummary`` marks the summary that replaces the conversation after a compaction.
- ``{"type": "summary", "summary", "leafUuid"}``: the session's title. ``system`` records (turn durations,
  compaction boundaries, hook output) end the model turn before them. ``file-history-snapshot``,
  ``queue-operation``, ``progress``, ``attachment`` carry nothing the spans need.
- Subagents: older versions write their records inline with ``isSidechain: true``; newer ones write
  ``<session id>/subagents/agent-<agent id>.jsonl`` (and 2.0.x ``agent-<agent id>.jsonl`` next to the session),
  every record with the parent's ``sessionId``, ``isSidechain: true`` and ``agentId``.
"""

from __future__ import annotations

import os
from typing import Any, Mapping

from otel_cot import semconv as sc

from .model import CLAUDE_CODE, Item, Message, ModelTurn, Reasoning, Scope, SubagentEnd, ToolRun, Usage
from .reader import (SessionReader, add_ints, as_int, parse_time, subagent_to_dict, text_of, tool_from_dict,
                     tool_to_dict, turn_from_dict, turn_to_dict)
from .tool_arguments import span_arguments

PROVIDER = "anthropic"
_IGNORED = frozenset({"file-history-snapshot", "queue-operation", "progress", "attachment", "custom-title",
                      "tag", "last-prompt"})
MAX_PENDING_TOOLS = 256  # tool calls waiting for a result; beyond it the oldest is exported without one


def subagent_id_from_path(path: str | None) -> str | None:
    """``.../agent-<id>.jsonl`` → ``<id>`` (a subagent's own file)."""
    if not path:
        return None
    name = os.path.basename(path)
    if name.startswith("agent-") and name.endswith(".jsonl"):
        return name[len("agent-"):-len(".jsonl")]
    return None


class _Chain:
    """One conversation thread in the file: the session's own, or a sidechain's. Holds its open model turn
    and the input (prompt, tool results) that the next model turn will read."""

    __slots__ = ("turn", "inputs", "compaction", "last_ns", "closed_id", "splits")

    def __init__(self) -> None:
        self.turn: ModelTurn | None = None
        self.inputs: list[Message] = []
        self.compaction = False
        self.last_ns: int | None = None
        # The message id of the last turn exported; more blocks of it after that (the file was idle in
        # between, or a record of another kind came between its blocks) make a turn of their own.
        self.closed_id: str | None = None
        self.splits = 0


class ClaudeCodeReader(SessionReader):
    agent = CLAUDE_CODE

    def __init__(self, path: str | None = None) -> None:
        super().__init__(path)
        self._file_agent = subagent_id_from_path(path)
        self._chains: dict[str, _Chain] = {}
        self._tools: dict[str, ToolRun] = {}
        self._sidechains: dict[str, SubagentEnd] = {}

    # --- records ---------------------------------------------------------------------------------------
    def feed(self, record: Mapping[str, Any]) -> list[Item]:
        kind = record.get("type")
        ts = parse_time(record.get("timestamp"))
        self.saw(ts)
        if self.scope is None and isinstance(record.get("sessionId"), str):
            self._set_scope(record)
        if kind == "assistant":
            return self._assistant(record, ts)
        if kind == "user":
            return self._user(record, ts)
        if kind == "summary":
            if isinstance(record.get("summary"), str):
                self.summary = record["summary"]
            return []
        if kind == "system":
            chain = self._chain(record)
            chain.last_ns = ts or chain.last_ns
            return self._close(chain)
        if kind in _IGNORED:
            return []
        return self.unknown(kind)

    def _set_scope(self, record: Mapping[str, Any]) -> None:
        session = str(record["sessionId"])
        agent_id = self._file_agent
        if agent_id:
            self.scope = Scope(CLAUDE_CODE, session, agent_key=f"agent-{agent_id}", agent_name=f"agent-{agent_id}")
        else:
            self.scope = Scope(CLAUDE_CODE, session, agent_name=CLAUDE_CODE)

    def _chain_key(self, record: Mapping[str, Any]) -> str:
        if self._file_agent is not None or not record.get("isSidechain"):
            return ""
        return f"sidechain-{record.get('agentId') or ''}".rstrip("-")

    def _chain(self, record: Mapping[str, Any]) -> _Chain:
        key = self._chain_key(record)
        chain = self._chains.get(key)
        if chain is None:
            chain = self._chains[key] = _Chain()
        return chain

    def _agent_key(self, record: Mapping[str, Any], ts: int | None) -> str | None:
        key = self._chain_key(record)
        if not key:
            return None
        end = self._sidechains.get(key)
        if end is None:
            end = self._sidechains[key] = SubagentEnd(key, key, ts or 0, ts or 0)
        elif ts:
            end.start_ns = min(end.start_ns, ts) if end.start_ns else ts
            end.end_ns = max(end.end_ns, ts)
        return key

    def _assistant(self, record: Mapping[str, Any], ts: int | None) -> list[Item]:
        message = record.get("message")
        if not isinstance(message, Mapping):
            return self.unknown("assistant:no-message")
        chain = self._chain(record)
        agent_key = self._agent_key(record, ts)
        now = ts or chain.last_ns or self.end_ns or 0
        message_id = str(message.get("id") or record.get("uuid") or f"@{self.stats.records}")
        out: list[Item] = []
        turn = chain.turn
        if turn is not None and turn.response_id != message_id:
            out.extend(self._close(chain))
            turn = None
        if turn is None:
            key = message_id
            if message_id == chain.closed_id:
                chain.splits += 1
                key = f"{message_id}+{chain.splits}"
            model = message.get("model") if isinstance(message.get("model"), str) else None
            turn = chain.turn = ModelTurn(key=key, agent_key=agent_key, model=model, provider=PROVIDER,
                                          start_ns=chain.last_ns or now, end_ns=now, response_id=message_id,
                                          input_messages=chain.inputs, compaction=chain.compaction)
            chain.inputs, chain.compaction = [], False
        turn.end_ns = max(turn.end_ns, now)
        content = message.get("content")
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content
        for block in blocks if isinstance(blocks, list) else ():
            if isinstance(block, Mapping):
                out.extend(self._block(turn, block, agent_key, now))
        usage = message.get("usage")
        if isinstance(usage, Mapping):
            cache_read = as_int(usage.get("cache_read_input_tokens"))
            cache_write = as_int(usage.get("cache_creation_input_tokens"))
            turn.usage = Usage(input_tokens=add_ints(usage.get("input_tokens"), cache_read, cache_write),
                               output_tokens=as_int(usage.get("output_tokens")),
                               cache_read_tokens=cache_read, cache_creation_tokens=cache_write)
        if isinstance(message.get("stop_reason"), str):
            turn.finish_reason = message["stop_reason"]
        chain.last_ns = now
        return out

    def _block(self, turn: ModelTurn, block: Mapping[str, Any], agent_key: str | None, now: int) -> list[Item]:
        kind = block.get("type")
        previous_end = turn.reasoning[-1].end_ns if turn.reasoning else turn.start_ns
        if kind == "thinking":
            text = block.get("thinking") if isinstance(block.get("thinking"), str) else ""
            turn.reasoning.append(Reasoning(text, sc.SOURCE_ANTHROPIC_THINKING, False, previous_end, now))
            turn.output_parts.append({"type": "reasoning", "content": text})
        elif kind == "redacted_thinking":
            turn.reasoning.append(Reasoning(None, sc.SOURCE_ANTHROPIC_REDACTED_THINKING, True, previous_end, now))
            turn.output_parts.append({"type": "reasoning", "redacted": True})
        elif kind == "text":
            turn.output_parts.append({"type": "text", "content": str(block.get("text") or "")})
        elif kind == "tool_use":
            call_id = str(block.get("id") or f"{turn.key}#{len(turn.output_parts)}")
            name, arguments = span_arguments(str(block.get("name") or "tool"), block.get("input"))
            turn.output_parts.append({"type": "tool_call", "id": call_id, "name": name, "arguments": arguments})
            self._tools[call_id] = ToolRun(call_id, name, arguments, agent_key, turn.key, now)
            if len(self._tools) > MAX_PENDING_TOOLS:
                oldest = next(iter(self._tools))
                return [self._tools.pop(oldest)]
        elif kind == "server_tool_use":
            turn.output_parts.append({"type": "tool_call", "id": block.get("id"), "name": block.get("name"),
                                      "arguments": block.get("input"), "server": True})
        else:
            self.stats.unknown[f"assistant block {kind}"] += 1
        return []

    def _user(self, record: Mapping[str, Any], ts: int | None) -> list[Item]:
        message = record.get("message")
        if not isinstance(message, Mapping):
            return self.unknown("user:no-message")
        chain = self._chain(record)
        self._agent_key(record, ts)
        now = ts or chain.last_ns or self.end_ns or 0
        out = self._close(chain)
        content = message.get("content")
        if record.get("isCompactSummary"):
            chain.compaction = True
            chain.inputs.append({"role": "user", "parts": [{"type": "text", "content": text_of(content)}]})
        elif isinstance(content, str):
            if not record.get("isMeta"):
                chain.inputs.append({"role": "user", "parts": [{"type": "text", "content": content}]})
        elif isinstance(content, list):
            texts = []
            for block in content:
                if not isinstance(block, Mapping):
                    continue
                if block.get("type") == "tool_result":
                    out.extend(self._tool_result(chain, block, now))
                elif block.get("type") == "text" and not record.get("isMeta"):
                    texts.append(str(block.get("text") or ""))
            if texts:
                chain.inputs.append({"role": "user", "parts": [{"type": "text", "content": t} for t in texts]})
        chain.last_ns = now
        return out

    def _tool_result(self, chain: _Chain, block: Mapping[str, Any], now: int) -> list[Item]:
        call_id = str(block.get("tool_use_id") or "")
        result = text_of(block.get("content"))
        chain.inputs.append({"role": "tool", "parts": [{"type": "tool_call_response", "id": call_id,
                                                        "response": result}]})
        run = self._tools.pop(call_id, None)
        if run is None:
            self.stats.late_results += 1
            return []
        run.result, run.error, run.has_result = result, bool(block.get("is_error")), True
        run.end_ns = max(now, run.start_ns)
        return [run]

    def _close(self, chain: _Chain) -> list[Item]:
        turn, chain.turn = chain.turn, None
        if turn is None:
            return []
        if turn.response_id != chain.closed_id:
            chain.closed_id, chain.splits = turn.response_id, 0
        return [turn]

    # --- end of file ---------------------------------------------------------------------------------------
    def flush(self) -> list[Item]:
        out: list[Item] = []
        for chain in self._chains.values():
            out.extend(self._close(chain))
        out.extend(self._tools.values())
        self._tools.clear()
        out.extend(self._sidechains.values())
        self._sidechains.clear()
        return out

    def snapshot(self) -> dict[str, Any]:
        state = super().snapshot()
        state["chains"] = {key: {"turn": turn_to_dict(c.turn) if c.turn else None, "inputs": c.inputs,
                                 "compaction": c.compaction, "last_ns": c.last_ns, "closed_id": c.closed_id,
                                 "splits": c.splits}
                           for key, c in self._chains.items()}
        state["tools"] = [tool_to_dict(run) for run in self._tools.values()]
        state["sidechains"] = [subagent_to_dict(end) for end in self._sidechains.values()]
        return state

    def restore(self, state: Mapping[str, Any]) -> None:
        super().restore(state)
        self._chains = {}
        for key, data in (state.get("chains") or {}).items():
            chain = self._chains[key] = _Chain()
            chain.turn = turn_from_dict(data["turn"]) if data.get("turn") else None
            chain.inputs = list(data.get("inputs") or [])
            chain.compaction = bool(data.get("compaction"))
            chain.last_ns = data.get("last_ns")
            chain.closed_id, chain.splits = data.get("closed_id"), int(data.get("splits") or 0)
        self._tools = {run["call_id"]: tool_from_dict(run) for run in state.get("tools") or ()}
        self._sidechains = {end["agent_key"]: SubagentEnd(**end) for end in state.get("sidechains") or ()}
