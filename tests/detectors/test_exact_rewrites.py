"""Helpers rewritten for speed answer exactly what the code they replaced answered."""

from __future__ import annotations

import ast
import random
import re
from pathlib import Path

from otel_cot.detectors.arithmetic import blank_fences
from otel_cot.detectors.gaming_code import walk_nodes

_FENCED = re.compile(r"```.*?(?:```|$)", re.DOTALL)  # what false_equations blanked fenced code with


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
