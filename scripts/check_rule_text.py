"""No rule may contain dataset text: list the string literals of 20+ characters in the detectors and rule
packs that occur in a labelled JSONL set.

    python scripts/check_rule_text.py DATA.jsonl...      # the labelled sets the detectors are measured on

Exit status 1 when one does. Every string constant (regex sources included) and every YAML scalar of the
built-in rule packs is checked against every ``system`` and step ``text`` of the data, case-insensitively.
"""

from __future__ import annotations

import ast
import json
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
MIN_CHARS = 20


def literals() -> list[tuple[str, str]]:
    """``(where, literal)`` of the detector modules' string constants and the rule packs' strings."""
    out: list[tuple[str, str]] = []
    for path in sorted((ROOT / "otel_cot" / "detectors").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                      if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                      and node.body and isinstance(node.body[0], ast.Expr)
                      and isinstance(node.body[0].value, ast.Constant)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
                out.append((f"{path.relative_to(ROOT)}:{node.lineno}", node.value))
    for path in sorted((ROOT / "otel_cot" / "detectors" / "rules").glob("*.yaml")):
        stack = [yaml.safe_load(path.read_text(encoding="utf-8"))]
        while stack:
            item = stack.pop()
            if isinstance(item, dict):
                stack.extend(item.values())
            elif isinstance(item, list):
                stack.extend(item)
            elif isinstance(item, str):
                out.append((str(path.relative_to(ROOT)), item))
    return [(where, s) for where, s in out if len(s.strip()) >= MIN_CHARS]


def corpus(paths: list[str]) -> str:
    texts: list[str] = []
    for path in paths:
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    row = json.loads(line)
                    texts.append(str(row.get("system") or ""))
                    texts.extend(str(step.get("text") or "") for step in row.get("steps") or ())
    return "\n".join(texts).lower()


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    text = corpus(argv)
    found = [(where, s) for where, s in literals() if s.strip().lower() in text]
    for where, s in found:
        print(f"{where}: {s!r}")
    print(f"{len(found)} literal(s) of {MIN_CHARS}+ characters found in the data", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
