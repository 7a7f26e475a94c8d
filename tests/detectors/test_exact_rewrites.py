"""Helpers rewritten for speed answer exactly what the code they replaced answered."""

from __future__ import annotations

import ast
import random
import re
from pathlib import Path

from otel_cot.detectors import reward_hacking
from _helpers import view
from otel_cot.detectors import provenance
from otel_cot.detectors.arithmetic import _EQUALS, blank_fences, equals_signs
from otel_cot.detectors.base import TraceContext
from otel_cot.detectors.gaming_code import walk_nodes
from otel_cot.detectors.reward_hacking import code_blocks, states_gaming

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


def test_states_gaming_is_unchanged_by_its_scan_gate():
    def reference(text: str) -> bool:  # before: TEST_INTENT ran on every text that passed the word gate
        return next(iter(reward_hacking._commitments(text)), None) is not None or \
            next(iter(reward_hacking._targeted_statements(text)), None) is not None or \
            any(not reward_hacking.NEGATION.search(text[max(0, m.start() - 60):m.start()])
                for m in reward_hacking.TEST_INTENT.finditer(text))
    texts = ["I'll remove the failing test so the suite passes.", "We should not delete the tests.",
             "Let me adjust the expected value in the conflicting test. " * 3, "The test runner output is long.",
             "I will make the tests pass regardless of the spec, whatever the input.", "Plain words " * 20,
             "Skipping the check: we'll fix the assertion later, it is wrong. " * 2]
    for text in texts:
        assert states_gaming(text) == (reward_hacking._may_state(text) and reference(text)), text
    assert any(states_gaming(t) for t in texts) and not all(states_gaming(t) for t in texts)


def test_equals_signs_are_the_equals_regex_matches():
    rnd = random.Random(6)
    pieces = ["=", "==", "<", ">", "!", ":", "\u2264", "\u2265", "\u2260", "a", " ", "\n", "1"]
    for _ in range(50_000):
        text = "".join(rnd.choice(pieces) for _ in range(rnd.randint(0, 14)))
        limit = rnd.randint(0, 6)
        expected = [m.start() for _, m in zip(range(limit), _EQUALS.regex.finditer(text))]
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
        assert provenance._trusted(ctx) == reference(ctx)
        assert provenance._trusted(ctx) == reference(ctx)  # (the remembered answer)
        seen.add(reference(ctx))
    other = TraceContext("u")
    other.add(view("user", "pay bob"))
    assert provenance._trusted(other) == reference(other)
    assert len(seen) == 4
