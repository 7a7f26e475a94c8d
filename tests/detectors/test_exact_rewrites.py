"""Helpers rewritten for speed answer exactly what the code they replaced answered."""

from __future__ import annotations

import ast
import random
import re
from pathlib import Path

from otel_cot.detectors import reward_hacking
from otel_cot.detectors.arithmetic import blank_fences
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
