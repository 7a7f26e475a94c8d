"""Session readers (Claude Code, Codex CLI, Gemini CLI) against their fixtures: every reasoning text in a
reasoning span, every tool call in an execute_tool span with its result, stable ids, redaction, unknown
records counted, a torn last line, a long session read in pieces, and the detectors on the planted session."""

from __future__ import annotations

import json

import pytest

from otel_cot import semconv as sc
from otel_cot.coding_agents.reader import text_of
from otel_cot.coding_agents.session import make_reader, read_session_file, read_session_lines, root_of, spans_of
from otel_cot.coding_agents.spans import SpanBuilder, trace_id
from otel_cot.config import Settings
from otel_cot.content import clean
from otel_cot.detectors.engine import Engine
from otel_cot.detectors.exporter import record_from_span
from tests.support.coding_sessions import fixture, lines_of, long_claude_session, records_of

CLAUDE_SESSION = fixture("claude_code", "session.jsonl")
CLAUDE_SUBAGENT = fixture("claude_code", "6f1c2a9e-4b7d-4e21-9a3c-5d8e7f9a0b1c", "subagents", "agent-a4f9c21.jsonl")
CLAUDE_BENIGN = fixture("claude_code", "benign.jsonl")
CLAUDE_V1 = fixture("claude_code", "v1.0-inline-sidechain.jsonl")
GITHUB_TOKEN = "ghp_Zq7Rk2Lm9Xw4Tn6Vb1Hs8Jd3Fg5Pc0Ya2Ue7Oi"


def _by_name(spans, prefix):
    return [s for s in spans if s.name.startswith(prefix)]


def _attrs(span):
    return dict(span.attributes or {})


def _signature(spans):
    return sorted((s.context.trace_id, s.context.span_id, s.parent.span_id if s.parent else None, s.name,
                   s.start_time, s.end_time, json.dumps(_attrs(s), sort_keys=True, default=str)) for s in spans)


def _findings(spans):
    engine = Engine(timeout_s=None)
    names = {format(s.context.span_id, "016x"): s for s in spans}
    out = []
    for span in sorted(spans, key=lambda s: (s.end_time, s.start_time)):
        for f in engine.process(record_from_span(span)):
            out.append((names[f.span_id], f))
    return out


# --- Claude Code ---------------------------------------------------------------------------------------
def _claude_expected(path):
    thinking, calls, results = [], {}, {}
    for record in records_of(path):
        message = record.get("message") or {}
        for block in message.get("content") if isinstance(message.get("content"), list) else ():
            if block.get("type") == "thinking":
                thinking.append(block["thinking"])
            elif block.get("type") == "tool_use":
                calls[block["id"]] = block
            elif block.get("type") == "tool_result":
                results[block["tool_use_id"]] = text_of(block["content"])
    return thinking, calls, results


@pytest.mark.parametrize("path", [CLAUDE_SESSION, CLAUDE_SUBAGENT, CLAUDE_BENIGN, CLAUDE_V1])
def test_claude_every_reasoning_and_tool_call_is_a_span(path):
    result = read_session_file("claude_code", path)
    thinking, calls, results = _claude_expected(path)
    assert thinking and calls
    reasoning = [_attrs(s).get(sc.COT_REASONING_CONTENT) for s in _by_name(result.spans, "reasoning ")]
    assert sorted(r for r in reasoning if r) == sorted(thinking)
    tools = {_attrs(s)[sc.GEN_AI_TOOL_CALL_ID]: s for s in _by_name(result.spans, "execute_tool ")}
    assert set(tools) == set(calls)
    for call_id, block in calls.items():
        attrs = _attrs(tools[call_id])
        assert tools[call_id].name == f"execute_tool {block['name']}"
        assert json.loads(attrs[sc.GEN_AI_TOOL_CALL_ARGUMENTS]) == block["input"]
        assert attrs[sc.GEN_AI_TOOL_CALL_RESULT] == clean(results[call_id], Settings()).text
        # the tool span starts when the model asked for it and ends when the result was written
        assert tools[call_id].end_time >= tools[call_id].start_time
    # one trace, derived from the session id
    session = next(r["sessionId"] for r in records_of(path) if "sessionId" in r)
    assert {s.context.trace_id for s in result.spans} == {trace_id("claude_code", session)}


def test_claude_span_tree_usage_and_times():
    result = read_session_file("claude_code", CLAUDE_SESSION)
    spans = {s.context.span_id: s for s in result.spans}
    roots = [s for s in result.spans if s.parent is None]
    assert [r.name for r in roots] == ["invoke_agent claude_code"]
    root = roots[0]
    assert _attrs(root)[sc.GEN_AI_AGENT_DESCRIPTION] == "Make CI green and push to main"
    for span in result.spans:
        if span is not root:
            assert span.parent.span_id in spans, span.name
    chats = _by_name(result.spans, "chat ")
    assert len(chats) == 6  # six assistant message ids, several records each
    first = _attrs(chats[0])
    assert first[sc.GEN_AI_RESPONSE_ID] == "msg_01A1"
    # Anthropic input tokens include cache reads and writes, as the SDK writes them
    assert first[sc.GEN_AI_USAGE_INPUT_TOKENS] == 12 + 19024 + 187
    assert first[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 180
    assert json.loads(first[sc.GEN_AI_INPUT_MESSAGES])[0]["parts"][0]["content"].startswith("CI is red")
    # real timestamps: the first model turn runs from the prompt to its last block
    assert chats[0].start_time == 1772442000120000000 and chats[0].end_time == 1772442004980000000
    for chat in chats:
        for child in (s for s in result.spans if s.parent and s.parent.span_id == chat.context.span_id):
            assert child.name.startswith("reasoning ") and child.start_time >= chat.start_time
    compacted = [c for c in chats if _attrs(c).get(sc.COT_AGENT_COMPACTION)]
    assert len(compacted) == 1 and "continued from a previous conversation" in _attrs(compacted[0])[
        sc.GEN_AI_INPUT_MESSAGES]
    redacted = [s for s in _by_name(result.spans, "reasoning ") if _attrs(s)[sc.COT_REASONING_REDACTED]]
    assert len(redacted) == 1 and sc.COT_REASONING_CONTENT not in _attrs(redacted[0])
    assert _attrs(redacted[0])[sc.COT_REASONING_SOURCE] == sc.SOURCE_ANTHROPIC_REDACTED_THINKING


def test_claude_ids_are_stable_across_reads():
    first = read_session_file("claude_code", CLAUDE_SESSION)
    again = read_session_lines("claude_code", lines_of(CLAUDE_SESSION))
    assert _signature(first.spans) == _signature(again.spans)
    assert len({s.context.span_id for s in first.spans}) == len(first.spans)


def test_claude_redaction_and_truncation_follow_the_settings():
    result = read_session_file("claude_code", CLAUDE_SESSION)
    everything = json.dumps([_attrs(s) for s in result.spans], default=str)
    assert GITHUB_TOKEN not in everything and "[REDACTED:github_token]" in everything
    short = read_session_file("claude_code", CLAUDE_SESSION, settings=Settings(max_content_length=20))
    plan = [s for s in _by_name(short.spans, "reasoning ")
            if _attrs(s).get(sc.COT_REASONING_LENGTH, 0) > 20]
    assert plan and all(_attrs(s)[sc.COT_REASONING_TRUNCATED] for s in plan)
    assert all(len(_attrs(s)[sc.COT_REASONING_CONTENT]) <= 20 + len("…[truncated]") for s in plan)
    assert any(_attrs(s).get(sc.COT_CONTENT_TRUNCATED) for s in _by_name(short.spans, "chat "))
    bare = read_session_file("claude_code", CLAUDE_SESSION, settings=Settings(capture_content=False))
    content = {sc.COT_REASONING_CONTENT, sc.GEN_AI_INPUT_MESSAGES, sc.GEN_AI_OUTPUT_MESSAGES,
               sc.GEN_AI_TOOL_CALL_ARGUMENTS, sc.GEN_AI_TOOL_CALL_RESULT, sc.GEN_AI_AGENT_DESCRIPTION}
    assert not any(content & set(_attrs(s)) for s in bare.spans)
    assert len(bare.spans) == len(result.spans)


def test_claude_unknown_records_are_counted_not_fatal():
    result = read_session_file("claude_code", CLAUDE_SESSION)
    assert dict(result.stats.unknown) == {"x-future-record": 1}
    assert result.stats.malformed == 0
    lines = lines_of(CLAUDE_SESSION)
    mixed = lines[:3] + [b"this is not json\n", b'{"type": 42}\n', b"[1, 2]\n"] + lines[3:]
    again = read_session_lines("claude_code", mixed)
    assert again.stats.malformed == 2 and again.stats.unknown["42"] == 1
    assert _signature(again.spans) == _signature(result.spans)


def test_claude_torn_last_line_is_not_read_and_not_an_error():
    lines = lines_of(CLAUDE_SESSION)
    cut = len(lines) // 2
    torn = lines[:cut] + [lines[cut][: len(lines[cut]) // 2]]
    result = read_session_lines("claude_code", torn, finished=False)
    assert result.torn and result.stats.malformed == 0
    whole = read_session_lines("claude_code", lines[:cut], finished=False)
    assert _signature(result.spans) == _signature(whole.spans)


def _read_in_pieces(agent, lines, cuts, path=None):
    """Read ``lines`` with a fresh reader at every cut, restored from the previous one's JSON snapshot."""
    builder = SpanBuilder(Settings())
    spans, reader, start = [], make_reader(agent, path), 0
    for cut in list(cuts) + [len(lines)]:
        for line in lines[start:cut]:
            spans.extend(spans_of(builder, reader.scope, reader.feed_line(line)) if reader.scope else
                         _first(builder, reader, line))
        state = json.loads(json.dumps(reader.snapshot()))
        reader = make_reader(agent, path)
        reader.restore(state)
        start = cut
    spans.extend(spans_of(builder, reader.scope, reader.flush()))
    spans.append(root_of(builder, reader))
    return spans


def _first(builder, reader, line):
    items = reader.feed_line(line)
    return spans_of(builder, reader.scope, items) if reader.scope else []


def test_claude_long_session_read_in_pieces_equals_one_read():
    lines = list(long_claude_session(400))
    whole = read_session_lines("claude_code", lines)
    assert len(_by_name(whole.spans, "chat ")) == 400
    assert len(_by_name(whole.spans, "execute_tool ")) == 400
    assert len(_by_name(whole.spans, "reasoning ")) == 400
    pieces = _read_in_pieces("claude_code", lines, range(7, len(lines), 97))
    assert _signature(pieces) == _signature(whole.spans)


def test_claude_subagent_file_hangs_under_the_session_root():
    main = read_session_file("claude_code", CLAUDE_SESSION)
    sub = read_session_file("claude_code", CLAUDE_SUBAGENT)
    root = next(s for s in main.spans if s.parent is None)
    agent = next(s for s in sub.spans if s.name == "invoke_agent agent-a4f9c21")
    assert agent.context.trace_id == root.context.trace_id
    assert agent.parent.span_id == root.context.span_id
    assert all(s.parent.span_id == agent.context.span_id for s in sub.spans
               if s.name.startswith(("chat ", "execute_tool ")))


def test_claude_inline_sidechain_of_an_older_version():
    result = read_session_file("claude_code", CLAUDE_V1)
    side = next(s for s in result.spans if s.name == "invoke_agent sidechain")
    grep = next(s for s in result.spans if s.name == "execute_tool Grep")
    assert grep.parent.span_id == side.context.span_id
    write = next(s for s in result.spans if s.name == "execute_tool Write")
    assert write.parent.span_id != side.context.span_id
    # one record per whole message in 1.0.x: the thinking, the text and the tool call are one model turn
    chat = next(s for s in result.spans if _attrs(s).get(sc.GEN_AI_RESPONSE_ID) == "msg_01Old1")
    parts = json.loads(_attrs(chat)[sc.GEN_AI_OUTPUT_MESSAGES])[0]["parts"]
    assert [p["type"] for p in parts] == ["reasoning", "text", "tool_call"]


def test_claude_detectors_fire_on_the_planted_session_only():
    found = _findings(read_session_file("claude_code", CLAUDE_SESSION).spans)
    categories = {(f.category, f.severity) for _span, f in found}
    assert ("reward_hacking", "high") in categories and ("destructive_action", "high") in categories
    hack = next(f for _s, f in found if f.category == "reward_hacking")
    assert "after reasoning that planned it" in hack.explanation
    push = next(f for _s, f in found if f.category == "destructive_action")
    assert "push" in push.explanation
    assert _findings(read_session_file("claude_code", CLAUDE_BENIGN).spans) == []
