"""Rule helpers rewritten for speed answer exactly what they answered before: frozen copies of the old
functions against the new ones on random input."""

from __future__ import annotations

import random

from otel_cot.detectors import arithmetic, expected_values

_SIDE_CHARS, _SIDE_WORDS = arithmetic._SIDE_CHARS, arithmetic._SIDE_WORDS  # (what the frozen copy reads)


def _old_bounds(text: str, at: int, step: int, reach: int = 300) -> int:
    """The last index a side reaches from ``at`` in direction ``step`` (``at`` itself when it is empty)."""
    i = at
    stop = max(-1, at - reach) if step < 0 else min(len(text), at + reach)
    while i + step != stop:
        j = i + step
        if text[j] in _SIDE_CHARS:
            i = j
            continue
        for word in _SIDE_WORDS:
            if step < 0 and text.endswith(word, 0, j + 1) and not text[j - len(word):j - len(word) + 1].isalpha():
                i = j - len(word) + 1
                break
            if step > 0 and text.startswith(word, j) and not text[j + len(word):j + len(word) + 1].isalpha():
                i = j + len(word) - 1
                break
        else:
            break
    return i


def _outcome(bounds, *args):  # type: ignore[no-untyped-def]
    try:
        return bounds(*args)
    except IndexError:  # (a word that overshoots a short reach walks off the text: both the same way)
        return "IndexError"


def test_bounds_reach_where_they_reached_before():
    rnd = random.Random(31)
    pieces = ["1", "23", " ", "+", "*", "(", ")", "{", "}", ".", ",", "$", "\t", "=", "x", "a", "m", "s", "t", "d",
              "v", "\\", "\n", "−", "×", "²", "é", "mod", "mod ", "\\times", "\\cdot", "\\left(", "\\right)",
              "\\pmod{7}", "\\bmod", "\\div", "\\divx", "amod", "modx", "\\timesx", "ion", "\\\\"]
    checked = 0
    for _ in range(40_000):
        text = "".join(rnd.choice(pieces) for _ in range(rnd.randint(1, 40)))
        for at in {0, len(text) - 1, rnd.randrange(len(text))}:
            for step in (-1, 1):
                reach = rnd.choice((300, 300, 5, 1))
                assert _outcome(arithmetic._bounds, text, at, step, reach) == \
                    _outcome(_old_bounds, text, at, step, reach), (text, at, step, reach)
                checked += 1
    assert checked > 100_000


def _old_remember(text, oracle, scanned=False):  # type: ignore[no-untyped-def]
    for args, expected in expected_values.assertions(text, scanned):
        if len(oracle) >= expected_values.MAX_PAIRS:
            del oracle[next(iter(oracle))]
        oracle[args] = expected


def test_remember_adds_what_it_added_before():
    rnd = random.Random(32)
    pieces = ["f(1)", " == ", "==", "=", " 3", "'a'", "[1, 2]", "assert ", "assertEqual(", "g(2, 3)", ", 5)",
              "expect(", "expect (", "h(4)", ").toBe(", "7)", "assertEquals(", "9, k(1))", "expec", "asser", "\n",
              " x ", "(", ")", "é", "Assert"]
    added = 0
    for _ in range(20_000):
        text = "".join(rnd.choice(pieces) for _ in range(rnd.randint(0, 12)))
        scanned = rnd.random() < 0.2
        new: dict = {}
        old: dict = {}
        expected_values.remember(text, new, scanned)
        _old_remember(text, old, scanned)
        assert list(new.items()) == list(old.items()), text
        added += bool(new)
    assert added > 300


def test_a_code_is_sent_on_when_it_was_before():
    """secret_exposure._exfiltration searches for a code only in arguments that hold it: random codes, tool
    calls and user texts against the detector that searches every time."""
    import re

    from otel_cot.detectors.base import TraceContext
    from otel_cot.detectors.secret_exposure import SEND_TOOL, SecretExposureDetector
    from _helpers import view

    def old_exfiltration(detector, v, ctx):  # type: ignore[no-untyped-def]
        codes = ctx.memo.get(detector.id)
        if not codes or not SEND_TOOL.search(v.tool or v.text[:80]):
            return []
        args = v.arguments or v.text
        for value, kind, span_id in codes:
            if re.search(rf"(?<![\w]){re.escape(value)}(?![\w])", args) and value not in ctx.user_text:
                return [(kind, span_id)]
        return []

    rnd = random.Random(33)
    values = ["463820", "hunter22", "A1B2-C3", "4412", "x.y+z", "pass(word)", "9999"]
    pieces = values + [" ", "code ", "_", "-", "a", "7", '"', "{", "}", ":", ".", "é"]
    detector = SecretExposureDetector()
    sent = 0
    for _ in range(5_000):
        ctx = TraceContext("t")
        ctx.add(view("user", rnd.choice(["", "my pin is 4412", "send hunter22 to bob", "hello"])))
        ctx.memo[detector.id] = [(v, "code", f"s{i}") for i, v in enumerate(rnd.sample(values, rnd.randint(1, 4)))]
        args = "".join(rnd.choice(pieces) for _ in range(rnd.randint(0, 10)))
        call = view("tool_call", args, tool=rnd.choice(["send_email", "post_message", "get_file"]))
        new = [(f.explanation.split("sends a ")[1].split(" that")[0], f.related_span_id)
               for f in detector._exfiltration(call, ctx)]
        assert new == old_exfiltration(detector, call, ctx), (args, ctx.memo[detector.id])
        sent += bool(new)
    assert sent > 300


def test_read_only_tool_names_answer_as_the_anchored_match():
    from otel_cot.detectors import injection

    rnd = random.Random(34)
    pieces = ["get", "read", "ls", "Get", "search", "_", "File", "x", "\n", "A", "list", "cat", "é", "-", "glob", ""]
    for _ in range(20_000):
        name = "".join(rnd.choice(pieces) for _ in range(rnd.randint(0, 4)))
        assert injection._is_read_only_tool(name) is (injection.READ_ONLY_TOOL.match(name) is not None), name
