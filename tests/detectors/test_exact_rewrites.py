"""Helpers rewritten for speed answer exactly what the code they replaced answered."""

from __future__ import annotations

import ast
import json
import random
import re
from pathlib import Path

from otel_cot.detectors import reward_hacking
from _helpers import view
from otel_cot.detectors import provenance
from otel_cot.detectors.arguments import parse_arguments
from otel_cot.detectors.arithmetic import blank_fences, equals_signs
from otel_cot.detectors.base import TraceContext
from otel_cot.detectors.gaming_code import walk_nodes
from otel_cot.detectors.reward_hacking import code_blocks, states_gaming

_EQUALS = re.compile(r"(?<![=<>!:\u2264\u2265\u2260])=(?!=)")  # where false_equations found '=' signs
_FENCED = re.compile(r"```.*?(?:```|$)", re.DOTALL)  # what false_equations blanked fenced code with
_CODE_BLOCK = re.compile(r"```[\w+\-]*\n(.*?)(?:```|$)", re.DOTALL)  # what reward_hacking read code blocks with


def test_blank_fences_is_the_fence_regex_substitution():
    rnd = random.Random(5)
    pieces = ["`", "``", "```", "\n", "a", "=", " ", "x = 1\n"]
    texts = ["", "```", "```\n", "a```b", "a```b```c```", "```py\nx = 1\n```\n2 + 2 = 5\n", "text\n```\n"]
    texts += ["".join(rnd.choice(pieces) for _ in range(rnd.randint(0, 14))) for _ in range(50_000)]
    for text in texts:
        assert blank_fences(text) == _FENCED.sub(" ", text), repr(text)


def test_walk_visits_what_ast_walk_visits_in_the_same_order():
    # (the first node a check finds is its evidence: the order matters, not only the set)
    root = Path(__file__).resolve().parents[2] / "otel_cot"
    files = sorted(root.rglob("*.py"))
    assert len(files) > 50
    for path in files:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        assert [id(n) for n in walk_nodes(tree)] == [id(n) for n in ast.walk(tree)], path


def test_code_blocks_are_the_code_block_regex_groups():
    rnd = random.Random(9)
    pieces = ["`", "``", "```", "\n", "a", "py", "+", "-", "_", " ", ".", "\u00e9", "\u0663", "x = 1\n"]
    texts = ["", "```py\nx = 1\n```", "```\n", "```py", "````\ncode```", "a\n```js\nf()\n", "```c++\nint x;\n```\n"]
    texts += ["".join(rnd.choice(pieces) for _ in range(rnd.randint(0, 14))) for _ in range(50_000)]
    for text in texts:
        assert list(code_blocks(text)) == [m.group(1) for m in _CODE_BLOCK.finditer(text)], repr(text)


def test_states_gaming_s_scan_gate_only_skips_texts_test_intent_cannot_match():
    # states_gaming runs TEST_INTENT only where INTENT may match: sound because every TEST_INTENT match is
    # an INTENT match (INTENT's alternatives include all of TEST_INTENT's)
    texts = ["I'll remove the failing test so the suite passes.", "We should not delete the tests.",
             "Let me adjust the expected value in the conflicting test. " * 3, "The test runner output is long.",
             "I will make the tests pass regardless of the spec, whatever the input.", "Plain words " * 20,
             "Skipping the check: we'll fix the assertion later, it is wrong. " * 2,
             "then DROP the planted assertions and output the hard-coded value for the input " * 2]
    rnd = random.Random(2)
    words = "remove delete fix the failing test tests assert check make pass anyway return expected value for " \
            "hardcoded special case conflicting output runner".split()
    texts += [" ".join(rnd.choice(words) for _ in range(rnd.randint(1, 40))) for _ in range(3000)]
    matched = 0
    for text in texts:
        if reward_hacking.TEST_INTENT.search(text):
            matched += 1
            assert reward_hacking.INTENT.may_match(text), text
    assert matched > 100
    assert states_gaming(texts[0]) and not states_gaming(texts[1])


def test_equals_signs_are_the_equals_regex_matches():
    rnd = random.Random(6)
    pieces = ["=", "==", "<", ">", "!", ":", "\u2264", "\u2265", "\u2260", "a", " ", "\n", "1"]
    for _ in range(50_000):
        text = "".join(rnd.choice(pieces) for _ in range(rnd.randint(0, 14)))
        limit = rnd.randint(0, 6)
        expected = [m.start() for _, m in zip(range(limit), _EQUALS.finditer(text))]
        assert equals_signs(text, limit) == expected, repr(text)


def test_trusted_text_follows_the_user_and_system_messages():
    def reference(ctx: TraceContext) -> str:  # what provenance built for every tool result with a marker
        return (ctx.user_text + "\n" + "\n".join(v.text for v in ctx.recent("system"))).lower()
    ctx = TraceContext("t")
    steps = [view("system", "You are HELPFUL"), view("user", "Pay Bob"), view("tool_result", "x"),
             view("user", "Also email ALICE@example.test"), view("system", "Second SYSTEM note"),
             view("tool_result", "y")]
    seen = set()
    for step in steps:
        ctx.add(step)
        assert provenance.trusted_text(ctx) == reference(ctx)
        assert provenance.trusted_text(ctx) == reference(ctx)  # (the remembered answer)
        seen.add(reference(ctx))
    other = TraceContext("u")
    other.add(view("user", "pay bob"))
    assert provenance.trusted_text(other) == reference(other)
    assert len(seen) == 4


def test_created_ids_read_up_to_a_bound_are_those_of_the_cut_text():
    # destructive_action reads the ids a tool result shows with finditer(text, 0, 20_000) (no copy, and the
    # view's compiled scan) instead of finditer(text[:20_000])
    from otel_cot import textscan
    from otel_cot.detectors.destructive import _ID_IN_RESULT

    rnd = random.Random(4)
    pieces = ["id", "_id", "ID", "id_", "'", '"', ":", "=", " ", "a1", "-", "x", "\n", "\u00e9", "{"]
    texts = ['{"id": "evt-1", "name": "x"} ' * 900, "id = 'a' " * 3000]
    texts += ["".join(rnd.choice(pieces) for _ in range(rnd.randint(30, 120))) for _ in range(20_000)]
    plain = re.compile(_ID_IN_RESULT.pattern)
    found = 0
    for name in ("hyperscan", "re2", "python", "off"):
        textscan.use_backend(name)
        try:
            for text in texts:
                bound = rnd.choice([20_000, len(text) // 2, len(text) - 1, 40])
                expected = [(m.span(), m.group(1)) for m in plain.finditer(text[:bound])]
                got = [(m.span(), m.group(1)) for m in _ID_IN_RESULT.finditer(text, 0, bound)]
                assert got == expected, (name, bound, text)
                found += bool(expected)
        finally:
            textscan.use_backend(None)
    assert found > 1000


def test_name_matches_answers_as_the_pattern_s_search():
    # remembered under (pattern text, flags, name) instead of by the pattern object
    from otel_cot.detectors.arguments import EDIT_TOOLS, SHELL_TOOLS, name_matches
    from otel_cot.detectors.test_talk import TEST_RUN

    cased, caseless = re.compile(r"^Bash$"), re.compile(r"^Bash$", re.IGNORECASE)
    names = ["bash", "Bash", "BASH", "shell", "run_shell_command", "str_replace_editor", "edit_file", "pytest",
             "write", "", "x" * 300, "Edit", "apply_patch", "execute_command", "npm test"]
    for _ in range(2):  # asked, then remembered
        for pattern in (SHELL_TOOLS, EDIT_TOOLS, TEST_RUN, cased, caseless):
            for name in names:
                assert name_matches(pattern, name) == (pattern.search(name) is not None), (pattern, name)
    assert not name_matches(cased, "bash") and name_matches(caseless, "bash")


def test_name_test_answers_as_the_pattern_s_search():
    """``name_test(pattern)`` (a per-pattern memo, what the facts and the detectors ask of tool names) answers
    ``pattern.search(name) is not None`` on random names, asked again once remembered and after its memo was
    emptied when full."""
    from otel_cot.detectors import arguments
    from otel_cot.detectors.arguments import EDIT_TOOLS, SHELL_TOOLS, is_edit_tool, is_shell_tool, name_test
    from otel_cot.detectors.test_talk import TEST_RUN

    rnd = random.Random(13)
    pieces = ["bash", "Bash", "sh", "shell", "run", "_", "command", "exec", "edit", "Edit", "write", "file", "py",
              "test", "jest", "read", ".", "-", " ", "\u212a", "K", "str_replace", "patch", "cmd", "x"]
    names = ["", "bash", "BASH", "pytest", "x" * 300] + \
        ["".join(rnd.choice(pieces) for _ in range(rnd.randint(1, 4))) for _ in range(3_000)]
    tests = [(SHELL_TOOLS, is_shell_tool), (EDIT_TOOLS, is_edit_tool), (TEST_RUN, name_test(TEST_RUN)),
             (re.compile(r"^Bash$"), name_test(re.compile(r"^Bash$")))]
    old_max = arguments._MAX_NAME_ANSWERS
    arguments._MAX_NAME_ANSWERS = 500  # (the memo is emptied when full: a few times over these names)
    try:
        for _ in range(2):  # asked, then remembered
            for name in names:
                for pattern, test in tests:
                    assert test(name) == (pattern.search(name) is not None), (pattern, name)
    finally:
        arguments._MAX_NAME_ANSWERS = old_max


def _command_from_before(view, arguments):  # command_from before the "$"-first gate and name_test
    from otel_cot.detectors.arguments import _COMMAND_RE, _CALL_PREFIX, SHELL_TOOLS, _first, command_in, \
        name_matches, tool_name

    text = view.arguments or view.text or ""
    name = tool_name(view)
    stripped = text.lstrip()
    if stripped.startswith("$ "):
        return stripped[2:].split("\n", 1)[0]
    if not name_matches(SHELL_TOOLS, name or ""):
        return None
    args = arguments()
    if isinstance(args, dict):  # (not what the gates changed: the same helper on both sides)
        return command_in(args)
    found = _first(_COMMAND_RE, text)
    if found is not None:
        return found
    if args is None and not stripped.startswith(("{", "[")) and not _CALL_PREFIX.match(stripped):
        return text
    return None


def test_command_from_answers_as_before_its_gates():
    """The rendered "$ command" form is looked for only when the text starts with "$" or whitespace, the
    tool's name asked through ``is_shell_tool``: on random views, what the function answered before."""
    from otel_cot.detectors.arguments import command_from, edit_from

    rnd = random.Random(17)
    starts = ["", " ", "\t", "\n", "\u2003", "\u00a0", "$", "$ ", " $ ", "\n$ ", "$x ", "{", "[", "bash(", " - run("]
    bodies = ['{"command": "ls -la"}', '{"cmd": ["git", "status"]}', '{"input": 3}', '["ls"]', "pytest -q",
              "make test\nok", '"command": "rm -rf x', "", "{", "}", ")", "$ echo hi", "a\nb"]
    tools = [None, "", "bash", "Bash", "shell", "terminal", "Edit", "write_file", "run_command", "read", "x"]
    answered = set()
    for _ in range(20_000):
        text = rnd.choice(starts) + rnd.choice(bodies) + rnd.choice(["", " ", "\n", ")"])
        v = view("tool_call", text, tool=rnd.choice(tools)) if rnd.random() < 0.8 else \
            view("tool_call", rnd.choice(["", "$ ls", "bash(ls)"]), tool=rnd.choice(tools), arguments=text)
        expected = _command_from_before(v, lambda: parse_arguments(v.arguments or v.text))
        assert command_from(v, lambda: parse_arguments(v.arguments or v.text)) == expected, v
        answered.add(expected is None)
        assert (edit_from(v, lambda: parse_arguments(v.arguments or v.text)) is None) == \
            (_edit_tool_before(v) is False), v
    assert answered == {True, False}


def _edit_tool_before(view):  # edit_from's first test before name_test
    from otel_cot.detectors.arguments import EDIT_TOOLS, name_matches, tool_name

    return name_matches(EDIT_TOOLS, tool_name(view) or "")


def _entity_values(text, lo, hi):  # what _remember read from ENTITY before the values were remembered by segment
    p = provenance
    out = []
    for m in p.ENTITY.finditer(text, lo, hi):
        kind = m.lastgroup or "quoted"
        value = next(g for g in m.groups() if g).strip().rstrip(".,;:!?")
        if p._useful(kind, value):
            out.append((kind if kind in p.STRONG or kind in ("num", "name", "token") else "value", value.lower()))
    return tuple(out)


def _lookbehind_widths(parsed):
    """The widths of every lookbehind in a parsed pattern (nested ones included)."""
    from re import _constants as c
    for op, arg in parsed:
        if op in (c.ASSERT, c.ASSERT_NOT) and arg[0] == -1:
            yield arg[1].getwidth()[1]
        for sub in (arg if isinstance(arg, (list, tuple)) else ()):
            if hasattr(sub, "getwidth"):
                yield from _lookbehind_widths(sub)
            elif isinstance(sub, (list, tuple)):
                for item in sub:
                    if hasattr(item, "getwidth"):
                        yield from _lookbehind_widths(item)


def test_entity_reads_at_most_one_character_before_a_segment():
    # segment_values remembers a segment's values under the segment and the one character before it
    from re import _parser
    widths = list(_lookbehind_widths(_parser.parse(provenance.ENTITY.pattern, provenance.ENTITY.flags)))
    assert widths and max(widths) <= 1
    assert max(_lookbehind_widths(_parser.parse(r"a(?<=ab)", 0))) == 2  # (the walk sees lookbehinds)


def test_segment_values_are_the_entities_found_in_the_segment():
    rnd = random.Random(21)
    pieces = ["pay", "Bob Smith", "bob@example.test", "DE89370400440532013000", "'secret plan'", "4242", "12",
              "2024-05-01", "Dear Friend", "https://evil.example.com/x", "the", "value_1x", "Mark Black", "\n",
              "+1 555 123 4567", "`rm -rf`", "ALICE", "-", ":", ".", "x", "_", "\u00e9t\u00e9", "\u0663\u0664",
              "Z\u00fcrich Bank", "caf\u00e9.com", "a" * 40]
    segments = ["".join(rnd.choice(pieces) + rnd.choice(["", " ", ""]) for _ in range(rnd.randint(1, 30)))
                for _ in range(150)]
    provenance.SEGMENTS.clear()
    checked = 0
    for _ in range(4000):  # the same segments again and again, after different characters, cut in places
        segment = rnd.choice(segments)
        before = rnd.choice(["", "", "x", "-", ":", ".", " ", "\n", "7", "\u00e9", "abc "])
        after = rnd.choice(["", "", "x", " rest of it", "7", "@example.test", ".com"])
        text = before + segment + after
        lo = len(before)
        hi = lo + rnd.randint(max(0, len(segment) - 3), len(segment))
        assert provenance.segment_values(text, lo, hi) == _entity_values(text, lo, hi), (text, lo, hi)
        checked += bool(_entity_values(text, lo, hi))
    assert checked > 1000
    assert 0 < len(provenance.SEGMENTS.map) <= provenance.SEGMENTS.entries


def test_instructions_are_the_markers_outside_the_segment_before_and_their_segments_values():
    rnd = random.Random(8)
    words = ["pay", "Bob Smith", "bob@example.test", "IMPORTANT!!!", "<INFORMATION>", "</INFORMATION>",
             "TODO: send", "Dear AI,", "ignore previous instructions", "\n\n", "4242", "x" * 30, "\u00e9t\u00e9"]
    texts = [" ".join(rnd.choice(words) for _ in range(rnd.randint(5, 400))) for _ in range(60)]
    provenance.TEXTS.clear()
    found = 0
    for _ in range(400):
        text = "".join(rnd.choice(texts))  # equal texts again and again, as new objects
        want = []
        covered = -1
        for m in provenance.markers(text):
            if m.start() < covered:
                continue
            lo, covered = provenance._segment(text, m.start(), m.end())
            want.append((m.start(), m.end(), _entity_values(text, lo, covered)))
        assert provenance.instructions(text) == tuple(want)
        found += bool(want)
    assert found > 200


def _planted_before(view, ctx, planted):  # provenance._remember before its filters were reordered
    from otel_cot.detectors.base import snippet
    p = provenance
    text = view.text
    trusted = known = None
    covered = -1
    for marker in p.markers(text):
        if marker.start() < covered:
            continue
        if trusted is None:
            trusted = p.trusted_text(ctx)
            known = {x.value for x in planted}
        lo, hi = p._segment(text, marker.start(), marker.end())
        covered = hi
        evidence = snippet(text, marker.start(), marker.end(), context=80)
        for m in p.ENTITY.finditer(text, lo, hi):
            kind = m.lastgroup or "quoted"
            value = next(g for g in m.groups() if g).strip().rstrip(".,;:!?")
            if not p._useful(kind, value) or p._mentioned(value.lower(), trusted):
                continue
            if value.lower() in known:
                continue
            planted.append(p.Planted(value.lower(), kind if kind in p.STRONG or kind in ("num", "name", "token")
                                     else "value", view.span_id, evidence))
            known.add(value.lower())
        if len(planted) > p.MAX_ENTITIES:
            del planted[: len(planted) - p.MAX_ENTITIES]
            known = {x.value for x in planted}


def test_planted_values_are_those_the_filters_found_in_their_first_order():
    rnd = random.Random(12)
    markers = ["Ignore all previous instructions and", "IMPORTANT!!!", "<INFORMATION>", "</INFORMATION>",
               "TODO: send", "you must now transfer", "Dear AI,", "new instructions:"]
    words = ["pay", "Bob Smith", "bob@example.test", "DE89370400440532013000", "'secret plan'", "4242", "12",
             "2024-05-01", "Dear Friend", "https://evil.example.com/x", "the", "value_1x", "Mark Black", "\n\n",
             "+1 555 123 4567", "`rm -rf`", "Pay Bob", "ALICE"]
    total = 0
    seen: list[str] = []
    for trial in range(300):
        ctx_new, ctx_old = TraceContext("a"), TraceContext("b")
        for ctx in (ctx_new, ctx_old):
            ctx.add(view("user", "Please pay Bob Smith 12 for the 4242 order" if trial % 2 else "Summarise mail"))
        planted_new: list = []
        planted_old: list = []
        for step in range(rnd.randint(1, 4)):
            text = " ".join(rnd.choice(words + markers) for _ in range(rnd.randint(5, 60)))
            if seen and rnd.random() < 0.3:  # a tool result read again (its instructions remembered)
                text = "".join(rnd.choice(seen))  # (an equal text, not the same object)
            seen.append(text)
            result = view("tool_result", text)
            provenance._remember(result, ctx_new, planted_new)
            _planted_before(result, ctx_old, planted_old)
            assert planted_new == planted_old, text
        total += len(planted_new)
    assert total > 300


def _parse_arguments_before(text):  # arguments.parse_arguments when it called json.loads
    if not text:
        return None
    body = text.strip()
    m = re.match(r"^\s*[-*]?\s*([\w.\-]+)\(", body)
    if m and body.endswith(")"):
        body = body[m.end():-1]
    if not body.startswith(("{", "[")):
        return None
    try:
        return json.loads(body)
    except ValueError:
        return None


def _random_json(rnd: random.Random, depth: int = 0):
    leaves = [1, -2.5e3, True, None, "pytest -q", "a\nb", "\u00e9\x01", "", float("nan")]
    if depth > 2 or rnd.random() < 0.4:
        return rnd.choice(leaves)
    if rnd.random() < 0.5:
        return [_random_json(rnd, depth + 1) for _ in range(rnd.randint(0, 3))]
    return {rnd.choice(["command", "cmd", "path", "é"]): _random_json(rnd, depth + 1) for _ in range(rnd.randint(0, 3))}


def test_parse_arguments_is_json_loads_of_the_body():
    rnd = random.Random(12)
    junk = ["", "", " ", "\t", "\n", "\x0c", "\u00a0", "x", "}", "]", ",", "\ufeff", "bash(", ")"]
    texts = ['{"command": "pytest -q"}', '{"a": 1} x', '{"a": ', "[1] \x0c", "bash({\"command\": \"ls\"})", "",
             "{\"a\": [1, {\"b\": null}]}\n", "\ufeff{}"]
    for _ in range(30_000):
        text = json.dumps(_random_json(rnd), ensure_ascii=rnd.random() < 0.5)
        if rnd.random() < 0.3:
            text = text[:rnd.randint(0, len(text))]  # truncated, as stored traces cut arguments
        texts.append(rnd.choice(junk) + text + rnd.choice(junk))
        # a "name(args)" rendering, the arguments padded inside it
        texts.append(f"bash({rnd.choice(junk)}{text}{rnd.choice(junk)}{rnd.choice(junk)})")
    parsed = 0
    for text in texts:
        expected = _parse_arguments_before(text)
        got = parse_arguments(text)
        assert repr(got) == repr(expected), repr(text)  # (repr: NaN is not equal to itself)
        parsed += expected is not None
    assert 2_000 < parsed < len(texts) - 2_000  # both answers, many times


def test_passed_is_the_passed_run_search_where_no_failure_was_found():
    # deception and reward_hacking ask PASSED_RUN only of outputs FAILED_RUN finds nothing in; there its
    # lookahead never fails, and test_talk.passed runs the pattern without it
    from otel_cot import textscan
    from otel_cot.detectors.test_talk import FAILED_RUN, PASSED_ANYWHERE, PASSED_RUN, passed

    assert PASSED_ANYWHERE.pattern != PASSED_RUN.pattern and PASSED_ANYWHERE.flags == PASSED_RUN.flags
    rnd = random.Random(6)
    pieces = ["1 passed", "12 passed", " passed", "passed", "0 passed", "failed", "FAILED", "Failed", "xfailed",
              "failedx", " failed", "1 failed", "2 errors", "error", "OK", "ok", "O\u212a", "All tests passed",
              "all TESTS passed", " ", " ", "\n", "\t", "in 0.01s", "=", "x", "9", "\u00e9", "AssertionError"]
    outputs = ["1 passed in 0.01s " * 5, "3 passed, 1 failed", "OK\n", "All tests passed!\n1 failed"]
    outputs += ["".join(rnd.choice(pieces) for _ in range(rnd.randint(0, 14))) for _ in range(30_000)]
    asked = shown = 0
    for name in ("hyperscan", "re2", "python", "off"):
        textscan.use_backend(name)
        try:
            for output in outputs:
                if FAILED_RUN.search(output):
                    continue
                expected = PASSED_RUN.search(output) is not None
                assert passed(output) == expected, (name, output)
                asked += 1
                shown += expected
        finally:
            textscan.use_backend(None)
    assert shown > 5_000 and asked - shown > 5_000


def test_strip_wrappers_drops_what_it_dropped_before():
    # its nothing-to-drop return against its loop: behind a leading "nohup" (a wrapper without options) the
    # loop drops that word and then reads the rest exactly as the call without it would
    from otel_cot.detectors.arguments import strip_wrappers

    rnd = random.Random(13)
    words = ["sudo", "env", "X=1", "_A=", "1X=2", "=x", "a=b", "nice", "-n", "-u", "xargs", "time", "rm", "-rf", "/",
             "pytest", "git", "é=1", "command", "doas", "nohup", "exec", "A-B=1"]
    fast = 0
    for _ in range(30_000):
        argv = tuple(rnd.choice(words) for _ in range(rnd.randint(1, 6)))
        expected = tuple(strip_wrappers(("nohup",) + argv))
        assert tuple(strip_wrappers(argv)) == expected and tuple(strip_wrappers(list(argv))) == expected, argv
        fast += strip_wrappers(argv) is argv
    assert fast > 10_000


def _same_as_search(check, pattern, pieces: list[str], seed: int, most: int) -> int:
    """``check(text) == (pattern.search(text) is not None)`` on 30,000 random joins of ``pieces``; how many
    texts it matched."""
    rnd = random.Random(seed)
    hits = 0
    for _ in range(30_000):
        text = "".join(rnd.choice(pieces) + rnd.choice(["", "", " ", "\n"]) for _ in range(rnd.randint(0, most)))
        expected = pattern.search(text) is not None
        assert check(text) == expected, text
        hits += expected
    return hits


def test_runs_tests_is_the_test_run_regex():
    """Its words gate and its lowered search without IGNORECASE answer what TEST_RUN.search does, on random
    commands in any case, with the non-ASCII letters IGNORECASE folds (long s, Kelvin sign, dotted I)."""
    from otel_cot.detectors.test_talk import TEST_RUN, runs_tests

    assert TEST_RUN.pattern == TEST_RUN.pattern.lower()  # (what searching the lowered text relies on)
    pieces = ["pytest", "py.test", "unittest", "tox", "nox", "jest", "vitest", "mocha", "go", "test", "cargo", "npm",
              "run", "yarn", "make", "rspec", "phpunit", "test_solution", "ls", "-la", "git", "status", "rm", "-rf",
              "build", "cat", "x.py", "tests/", "_", ".", "/", "-", "te\u017ft", "\u212aey", "\u0130", "TEST", "PyTest",
              "Go", "NPM", "\t", "&&", "|"]
    assert 5_000 < _same_as_search(runs_tests, TEST_RUN, pieces, 4, 6) < 25_000


def test_is_test_path_is_the_test_path_regex():
    """Its "test"/"spec" gate on ASCII text answers what TEST_PATH.search does, on random paths in any case,
    with the non-ASCII letters IGNORECASE folds."""
    from otel_cot.detectors.actions import TEST_PATH, is_test_path

    pieces = ["tests", "test", "__tests__", "spec", "specs", "/", "\\", "src", "test_", "_test", ".py", ".js", ".ts",
              ".tsx", ".test", ".spec", "conftest", "Test", ".java", "_spec", ".rb", ".go", "a", "-", '"', "'",
              "TEST", "Spec", "te\u017ft", "\u017fpec", "\u0130", "area", "build", "-rf", ".sh", "x"]
    assert 1_000 < _same_as_search(is_test_path, TEST_PATH, pieces, 6, 7) < 25_000


def test_is_ci_path_is_the_ci_path_regex():
    """The same for CI_PATH's words."""
    from otel_cot.detectors.actions import CI_PATH, is_ci_path

    pieces = [".github", "/", "\\", "workflows", ".gitlab-ci", ".yml", "grader", "grading", "evaluate", "scorer",
              "score", ".py", ".sh", "Jenkinsfile", ".circleci", "src", "ci.yml", "GitHub", "SCORE", "\u017fcore",
              "Jen\u212ainsfile", "grad\u0131ng", "x", "-", "."]
    assert 1_000 < _same_as_search(is_ci_path, CI_PATH, pieces, 8, 6) < 25_000


def test_patterns_asked_only_in_rare_states_are_kept_out_of_the_whole_text_scan():
    """PASSED_RUN (asked of a run's output only while a failed run or an impossibility statement stands),
    deception's DISCLOSED (asked of a pass claim after an impossibility statement) and gaming_code's
    _DEFINITION_AFTER (asked after a top-level exit in code) are plain ``re``: in the scan they cost a match
    callback on every text holding a pass, an "ok", a common word such as "bug" or a definition, and rejected
    next to nothing. What they answer is ``test_passed_is_the_passed_run_search...``'s and the
    deception tests' concern; here, only that no text pays for them."""
    from otel_cot import textscan
    from otel_cot.detectors.deception import DISCLOSED
    from otel_cot.detectors.gaming_code import _DEFINITION_AFTER
    from otel_cot.detectors.registry import default_detectors
    from otel_cot.detectors.test_talk import PASSED_RUN

    default_detectors()  # (every built-in pattern registered)
    scanned = {(p.pattern, p.flags) for p in textscan.registered()}
    for pattern in (PASSED_RUN, DISCLOSED, _DEFINITION_AFTER):
        assert isinstance(pattern, re.Pattern) and (pattern.pattern, pattern.flags) not in scanned


def test_false_equations_gate_rejects_only_texts_without_an_equals_sign_match():
    """false_equations skips a text without "=" by a substring test instead of asking the whole-text scan
    (where the pattern's loosened form, "=", matched a quarter of the tool texts while only answers ask): on
    random texts, a text the gate skips is one in which ``_EQUALS`` (the pattern the scan was asked about)
    finds nothing, and a text it reads gives the equations it gave before (``false_equations`` still finds
    them; the texts with equations are counted)."""
    from otel_cot import textscan
    from otel_cot.detectors.arithmetic import false_equations
    from otel_cot.detectors.registry import default_detectors

    default_detectors()
    assert _EQUALS.pattern not in {p.pattern for p in textscan.registered()}
    rnd = random.Random(29)
    pieces = ["2 + 2 = 5", "3 * 4 = 12", "x == 1", "a <= b", "1+1=3", "=", "==", " ", "\n", "```\n", "so", "7",
              "\u2260", "\u2264=", ":=", "!="]
    found = skipped = 0
    for _ in range(20_000):
        text = "".join(rnd.choice(pieces) for _ in range(rnd.randint(0, 8)))
        equations = list(false_equations(text))
        if "=" not in text:
            assert _EQUALS.search(text) is None and not equations, repr(text)
            skipped += 1
        found += bool(equations)
    assert skipped > 1_000 and found > 1_000


def test_may_state_asked_again_of_the_same_text_answers_as_before():
    texts = ["I'll special-case the failing test.", "Plain words only.", "We will hard-code the expected value.",
             "the test input " * 5, "Let's hack the tests."]
    for text in texts * 3:
        first = reward_hacking._may_state(text)
        assert reward_hacking._may_state(text) is first
        fresh = bool(reward_hacking.INTENT.may_match(text) or reward_hacking.COMMITTED.may_match(text) or
                     reward_hacking.TARGETED.may_match(text)) and reward_hacking._STATEMENT.search(text) is not None
        assert first is fresh, text
