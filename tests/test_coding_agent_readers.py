"""Session readers (Claude Code, Codex CLI, Gemini CLI) against their fixtures: every reasoning text in a
reasoning span, every tool call in an execute_tool span with its result, stable ids, redaction, unknown
records counted, a torn last line, a long session read in pieces, and the detectors on the planted session."""

from __future__ import annotations

import json

import pytest

from otel_cot import semconv as sc
from otel_cot.coding_agents.reader import text_of
from otel_cot.coding_agents import read_session_file, read_session_lines, span_records
from otel_cot.coding_agents.session import make_reader, root_of, spans_of
from otel_cot.coding_agents.spans import SpanBuilder, trace_id
from otel_cot.config import Settings
from otel_cot.content import clean
from otel_cot.detectors.engine import Engine
from tests.support.coding_sessions import fixture, lines_of, long_claude_session, records_of

CLAUDE_SESSION = fixture("claude_code", "session.jsonl")
CLAUDE_SUBAGENT = fixture("claude_code", "6f1c2a9e-4b7d-4e21-9a3c-5d8e7f9a0b1c", "subagents", "agent-a4f9c21.jsonl")
CLAUDE_BENIGN = fixture("claude_code", "benign.jsonl")
CLAUDE_V1 = fixture("claude_code", "v1.0-inline-sidechain.jsonl")
CODEX_SESSION = fixture("codex", "rollout-2026-03-03T14-00-00-0199a213-81c0-7800-8aa1-bbab2a035a53.jsonl")
CODEX_BENIGN = fixture("codex", "rollout-2026-03-03T15-00-00-0199a2f0-1c2d-7e3f-9a4b-5c6d7e8f9a0b.jsonl")
CODEX_V0 = fixture("codex", "rollout-2025-05-07T17-24-21-5973b6c0-94b8-487b-a530-2aeb6098ae0e.jsonl")
GEMINI_SESSION = fixture("gemini_cli", "session-2026-03-04T10-00-7c8d9e0f.jsonl")
GEMINI_BENIGN = fixture("gemini_cli", "session-2026-03-04T11-00-9e8d7c6b.jsonl")
GEMINI_JSON = fixture("gemini_cli", "session-2025-10-14T09-00-1a2b3c4d.json")
GITHUB_TOKEN = "ghp_Zq7Rk2Lm9Xw4Tn6Vb1Hs8Jd3Fg5Pc0Ya2Ue7Oi"
PLANTED = {"claude_code": CLAUDE_SESSION, "codex": CODEX_SESSION, "gemini_cli": GEMINI_SESSION}
BENIGN = {"claude_code": CLAUDE_BENIGN, "codex": CODEX_BENIGN, "gemini_cli": GEMINI_BENIGN}
UNKNOWN = {"claude_code": "x-future-record", "codex": "world_state", "gemini_cli": "checkpoint"}


def _by_name(spans, prefix):
    """Spans named ``prefix`` (``"chat "``: any chat span, with or without a model in its name)."""
    return [s for s in spans if s.name.startswith(prefix) or s.name == prefix.strip()]


def _attrs(span):
    return dict(span.attributes or {})


def _signature(spans):
    return sorted((s.context.trace_id, s.context.span_id, s.parent.span_id if s.parent else None, s.name,
                   s.start_time, s.end_time, json.dumps(_attrs(s), sort_keys=True, default=str)) for s in spans)


def _findings(spans):
    engine = Engine(timeout_s=None)
    names = {format(s.context.span_id, "016x"): s for s in spans}
    return [(names[f.span_id], f) for found in engine.process_many(span_records(spans)) for f in found]


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


# --- every agent ----------------------------------------------------------------------------------------
def _codex_expected(path):
    reasoning, calls, results = [], {}, {}
    for record in records_of(path):
        item = record.get("payload") if record.get("type") == "response_item" else record
        if not isinstance(item, dict):
            continue
        if item.get("type") == "reasoning" and item.get("summary"):
            reasoning.append("\n\n".join(s["text"] for s in item["summary"]))
        elif item.get("type") in ("function_call", "custom_tool_call", "local_shell_call"):
            calls[item["call_id"]] = item
        elif item.get("type") in ("function_call_output", "custom_tool_call_output"):
            output = item["output"]
            results[item["call_id"]] = output["content"] if isinstance(output, dict) else output
    return reasoning, calls, results


def _gemini_messages(path):
    if path.endswith(".json"):
        with open(path) as fh:
            return json.load(fh)["messages"]
    latest = {}
    for record in records_of(path):
        if isinstance(record.get("id"), str) and "type" in record:
            latest[record["id"]] = record  # a message written again replaces the earlier copy
    return list(latest.values())


def _gemini_expected(path):
    reasoning, calls, results = [], {}, {}
    for message in _gemini_messages(path):
        for t in message.get("thoughts") or ():
            reasoning.append(f"{t['subject']}\n{t['description']}")
        for call in message.get("toolCalls") or ():
            calls[call["id"]] = call
            results[call["id"]] = call["result"][0]["functionResponse"]["response"]["output"]
    return reasoning, calls, results


EXPECTED = {"claude_code": _claude_expected, "codex": _codex_expected, "gemini_cli": _gemini_expected}
ALL_FILES = [("claude_code", p) for p in (CLAUDE_SESSION, CLAUDE_SUBAGENT, CLAUDE_BENIGN, CLAUDE_V1)] + \
    [("codex", p) for p in (CODEX_SESSION, CODEX_BENIGN, CODEX_V0)] + \
    [("gemini_cli", p) for p in (GEMINI_SESSION, GEMINI_BENIGN, GEMINI_JSON)]


@pytest.mark.parametrize("agent,path", ALL_FILES, ids=lambda v: v.rsplit("/", 1)[-1])
def test_every_reasoning_text_and_tool_call_with_its_result(agent, path):
    result = read_session_file(agent, path)
    reasoning, calls, results = EXPECTED[agent](path)
    assert reasoning and calls
    texts = sorted(_attrs(s)[sc.COT_REASONING_CONTENT] for s in _by_name(result.spans, "reasoning ")
                   if sc.COT_REASONING_CONTENT in _attrs(s))
    assert texts == sorted(clean(t, Settings()).text for t in reasoning)
    tools = {_attrs(s)[sc.GEN_AI_TOOL_CALL_ID]: _attrs(s) for s in _by_name(result.spans, "execute_tool ")}
    assert set(tools) == set(calls)
    for call_id, result_text in results.items():
        assert tools[call_id][sc.GEN_AI_TOOL_CALL_RESULT] == clean(result_text, Settings()).text
    assert all(sc.GEN_AI_TOOL_CALL_ARGUMENTS in attrs for attrs in tools.values())
    # every model turn's reasoning hangs under its chat span; every span but the root has its parent here
    ids = {s.context.span_id for s in result.spans}
    for span in result.spans:
        if span.name.split(" ")[0] == "reasoning":
            assert result.spans[[x.context.span_id for x in result.spans].index(span.parent.span_id)].name \
                .startswith("chat")
        elif span.parent is not None and not span.name.startswith("invoke_agent "):
            assert span.parent.span_id in ids
    assert len({s.context.trace_id for s in result.spans}) == 1


@pytest.mark.parametrize("agent", sorted(PLANTED))
def test_ids_stable_redaction_and_unknown_records(agent):
    path = PLANTED[agent]
    first, again = read_session_file(agent, path), read_session_file(agent, path)
    assert _signature(first.spans) == _signature(again.spans)
    everything = json.dumps([_attrs(s) for s in first.spans], default=str)
    assert GITHUB_TOKEN not in everything and "[REDACTED:github_token]" in everything
    assert dict(first.stats.unknown) == {UNKNOWN[agent]: 1}
    assert first.stats.malformed == 0


@pytest.mark.parametrize("agent", sorted(PLANTED))
def test_read_line_by_line_with_restarts_equals_one_read(agent):
    """A fresh reader after every line, restored from the JSON snapshot of the previous one (what watch does
    after a restart), gives exactly the spans of one read."""
    lines = lines_of(PLANTED[agent])
    whole = read_session_lines(agent, lines, path=PLANTED[agent])
    pieces = _read_in_pieces(agent, lines, range(1, len(lines)), path=PLANTED[agent])
    assert _signature(pieces) == _signature(whole.spans)


@pytest.mark.parametrize("agent", sorted(PLANTED))
def test_torn_last_line(agent):
    lines = lines_of(PLANTED[agent])
    cut = len(lines) - 3
    result = read_session_lines(agent, lines[:cut] + [lines[cut][:-7]], path=PLANTED[agent], finished=False)
    assert result.torn and result.stats.malformed == 0
    assert _signature(result.spans) == _signature(
        read_session_lines(agent, lines[:cut], path=PLANTED[agent], finished=False).spans)


@pytest.mark.parametrize("agent", sorted(PLANTED))
def test_detectors_fire_on_the_planted_session_and_not_on_the_benign_one(agent):
    found = _findings(read_session_file(agent, PLANTED[agent]).spans)
    by_category = {f.category: f for _span, f in found}
    assert by_category["reward_hacking"].severity == "high"
    assert "after reasoning that planned it" in by_category["reward_hacking"].explanation
    assert by_category["destructive_action"].severity == "high"
    assert "push" in by_category["destructive_action"].explanation
    assert _findings(read_session_file(agent, BENIGN[agent]).spans) == []


# --- Codex specifics --------------------------------------------------------------------------------------
def test_codex_usage_encrypted_reasoning_and_normalised_tools():
    result = read_session_file("codex", CODEX_SESSION)
    chats = _by_name(result.spans, "chat gpt-5.2-codex")
    first = _attrs(chats[0])
    assert (first[sc.GEN_AI_USAGE_INPUT_TOKENS], first[sc.GEN_AI_USAGE_OUTPUT_TOKENS],
            first[sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS], first[sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS]) == \
        (9100, 140, 64, 2400)
    encrypted = [s for s in _by_name(result.spans, "reasoning ") if _attrs(s)[sc.COT_REASONING_REDACTED]]
    assert len(encrypted) == 1 and _attrs(encrypted[0])[sc.COT_REASONING_SOURCE] == sc.SOURCE_OPENAI_ENCRYPTED
    assert "gAAAA" not in json.dumps([_attrs(s) for s in result.spans], default=str)  # never copied
    tools = {_attrs(s)[sc.GEN_AI_TOOL_CALL_ID]: _attrs(s) for s in _by_name(result.spans, "execute_tool ")}
    assert json.loads(tools["call_Read1"][sc.GEN_AI_TOOL_CALL_ARGUMENTS])["command"] == "cat tests/test_cart.py"
    assert json.loads(tools["call_Push4"][sc.GEN_AI_TOOL_CALL_ARGUMENTS])["command"] == \
        "git push --force origin main"
    patch = json.loads(tools["call_Patch2"][sc.GEN_AI_TOOL_CALL_ARGUMENTS])
    assert patch["file_path"] == "tests/test_cart.py" and "assert cart.total() == 108" in patch["old_string"]
    assert "assert" not in patch["new_string"]
    assert sum(bool(_attrs(c).get(sc.COT_AGENT_COMPACTION)) for c in chats) == 1
    # the web search ran at OpenAI: a server tool call in the output, no execute_tool span
    assert any('"server":true' in _attrs(c).get(sc.GEN_AI_OUTPUT_MESSAGES, "") for c in chats)


def test_codex_first_rollout_format_without_wrapper():
    result = read_session_file("codex", CODEX_V0)
    assert result.scope.session == "5973b6c0-94b8-487b-a530-2aeb6098ae0e"
    assert not result.stats.unknown
    spans = sorted(result.spans, key=lambda s: (s.start_time, s.end_time))
    session_ns = 1746638661123000000
    assert min(s.start_time for s in spans) == session_ns
    push = next(s for s in spans if _attrs(s).get(sc.GEN_AI_TOOL_CALL_ID) == "call_Old1")
    plan = next(s for s in spans if s.name == "reasoning")
    assert plan.end_time <= push.start_time  # the order of the lines is kept
    assert _attrs(push)[sc.GEN_AI_TOOL_CALL_ARGUMENTS] == '{"command":"git push --force origin feature"}'


def test_codex_subagent_rollout_hangs_under_its_parent_session():
    parent = "0199a213-81c0-7800-8aa1-bbab2a035a53"
    lines = [json.dumps(r).encode() + b"\n" for r in [
        {"timestamp": "2026-03-03T14:01:00.000Z", "type": "session_meta", "payload": {
            "id": "0199a300-0000-7000-8000-000000000001", "timestamp": "2026-03-03T14:01:00.000Z",
            "source": {"subagent": {"thread_spawn": {"parent_thread_id": parent, "depth": 1,
                                                     "agent_nickname": "tester"}}}}},
        {"timestamp": "2026-03-03T14:01:01.000Z", "type": "response_item", "payload": {
            "type": "function_call", "name": "shell", "arguments": '{"command":["pytest","-q"]}',
            "call_id": "c1"}},
        {"timestamp": "2026-03-03T14:01:02.000Z", "type": "response_item", "payload": {
            "type": "function_call_output", "call_id": "c1", "output": "3 passed"}}]]
    result = read_session_lines("codex", lines)
    main_root = next(s for s in read_session_file("codex", CODEX_SESSION).spans if s.parent is None)
    agent = next(s for s in result.spans if s.name == "invoke_agent tester")
    assert agent.context.trace_id == main_root.context.trace_id
    assert agent.parent.span_id == main_root.context.span_id
    tool = next(s for s in result.spans if s.name == "execute_tool pytest" or s.name == "execute_tool shell")
    assert tool.parent.span_id == agent.context.span_id
    assert json.loads(_attrs(tool)[sc.GEN_AI_TOOL_CALL_ARGUMENTS])["command"] == "pytest -q"


# --- Gemini CLI specifics ------------------------------------------------------------------------------------
def test_gemini_message_written_again_is_one_turn_with_its_final_content():
    result = read_session_file("gemini_cli", GEMINI_SESSION)
    read = next(_attrs(s) for s in _by_name(result.spans, "execute_tool ")
                if _attrs(s)[sc.GEN_AI_TOOL_CALL_ID] == "read_file-1741082404000-a1")
    assert read[sc.GEN_AI_TOOL_CALL_RESULT].startswith("from shop.cart import Cart")
    chats = _by_name(result.spans, "chat ")
    assert len(chats) == 5  # five gemini message ids; the first was written twice
    first = _attrs(chats[0])
    # as the SDK counts Gemini tokens: thoughts are part of the output
    assert (first[sc.GEN_AI_USAGE_INPUT_TOKENS], first[sc.GEN_AI_USAGE_OUTPUT_TOKENS],
            first[sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS]) == (8200, 180, 120)
    root = next(s for s in result.spans if s.parent is None)
    assert _attrs(root)[sc.GEN_AI_AGENT_DESCRIPTION] == "Make CI green and push to main"


def test_gemini_whole_document_rewritten_in_place_is_read_incrementally():
    from otel_cot.coding_agents.gemini_cli import GeminiCliReader

    with open(GEMINI_JSON) as fh:
        document = json.load(fh)
    builder = SpanBuilder(Settings())
    reader = GeminiCliReader(GEMINI_JSON)
    partial = dict(document, messages=document["messages"][:2])
    first = reader.feed_document(partial)
    assert [type(i).__name__ for i in first] == []  # the gemini message is the last one: it may still change
    assert reader.feed_document(partial) == []  # the same file again: nothing new
    restored = GeminiCliReader(GEMINI_JSON)
    restored.restore(json.loads(json.dumps(reader.snapshot())))
    spans = spans_of(builder, restored.scope, restored.feed_document(document))
    spans += spans_of(builder, restored.scope, restored.flush()) + [root_of(builder, restored)]
    assert _signature(spans) == _signature(read_session_file("gemini_cli", GEMINI_JSON).spans)


def test_half_a_surrogate_pair_does_not_cost_the_content_it_is_in():
    """JSON allows ``"\\ud800"`` (half a pair); UTF-8 cannot encode it, so the OTLP encoder dropped the whole
    attribute holding it (the prompt, a tool's arguments, its result). It becomes U+FFFD; a real pair stays."""
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

    base = {"sessionId": "s1", "isSidechain": False}
    call = {"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {"command": "echo \ud800 \U0001F600"}}
    lines = [{**base, "type": "user", "uuid": "u1", "timestamp": "2026-01-01T00:00:00Z",
              "message": {"role": "user", "content": "a lone \udc00 half"}},
             {**base, "type": "assistant", "uuid": "a1", "timestamp": "2026-01-01T00:00:01Z",
              "message": {"id": "m1", "role": "assistant", "model": "claude-sonnet-4-5", "content": [call]}},
             {**base, "type": "user", "uuid": "u2", "timestamp": "2026-01-01T00:00:02Z", "message": {
                 "role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "ok"}]}}]
    spans = read_session_lines("claude_code", [json.dumps(r).encode() + b"\n" for r in lines]).spans
    encoded = encode_spans(spans)
    attributes = {kv.key: kv.value.string_value for rs in encoded.resource_spans for ss in rs.scope_spans
                  for span in ss.spans for kv in span.attributes}
    assert "a lone \ufffd half" in attributes[sc.GEN_AI_INPUT_MESSAGES]
    assert json.loads(attributes[sc.GEN_AI_TOOL_CALL_ARGUMENTS]) == {"command": "echo \ufffd \U0001F600"}


ODD_RECORDS = {
    "claude_code": [{"type": ["assistant"], "sessionId": "s1"}],
    "codex": [{"type": "response_item", "timestamp": "2026-01-01T00:00:00Z",
               "payload": {"type": "reasoning", "summary": 5}},
              {"type": ["response_item"], "payload": {}}],
    "gemini_cli": [{"id": "m9", "type": "gemini", "timestamp": "2026-01-01T00:00:00Z", "thoughts": 5,
                    "toolCalls": [{"id": {"a": 1}}]},
                   {"id": "m10", "type": "user", "content": "next"}],
}
SESSIONS = {"claude_code": ("session.jsonl",), "codex": ("rollout-2026-03-03T14-00-00-"
                                                         "0199a213-81c0-7800-8aa1-bbab2a035a53.jsonl",),
            "gemini_cli": ("session-2026-03-04T10-00-7c8d9e0f.jsonl",)}


@pytest.mark.parametrize("agent", list(ODD_RECORDS))
def test_a_known_record_of_an_unexpected_shape_is_skipped_and_counted(agent):
    """Formats change without notice: a record whose fields have other types than the reader expects is counted
    and skipped; it does not stop the reader (``watch`` would crash on it at every restart)."""
    lines = lines_of(fixture(agent, *SESSIONS[agent]))
    odd = [json.dumps(r).encode() + b"\n" for r in ODD_RECORDS[agent]]
    read = read_session_lines(agent, lines[:3] + odd + lines[3:])
    assert read.stats.unknown["unreadable record"] >= 1
    whole = read_session_lines(agent, lines)
    assert {s.name for s in whole.spans if s.name.startswith("execute_tool")} <= {s.name for s in read.spans}
