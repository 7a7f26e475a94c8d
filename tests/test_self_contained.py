"""A clone holds everything its code and tests point at: no comment, docstring or test names a file outside
the repository (the first design notes and the shared data live beside a developer's checkout, not in a
user's clone). The design of record is docs/architecture.md."""

from __future__ import annotations

import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[1]
CODE = ("otel_cot", "collector", "tests", "bench", "scripts", "examples", ".ci")
OUTSIDE = re.compile(r"DESIGN\.md|peers\.md|otel-facts\.md|\.\./shared\b|/work/shared")


def test_code_and_tests_name_no_file_outside_the_repository() -> None:
    found = []
    for top in CODE:
        for path in sorted((ROOT / top).rglob("*")):
            if path.suffix not in (".py", ".sh", ".yaml", ".yml", ".toml", ".cfg", "") or not path.is_file():
                continue
            if path == pathlib.Path(__file__).resolve() or "fixtures" in path.parts:
                continue
            text = path.read_text(encoding="utf-8", errors="replace")
            found += [f"{path.relative_to(ROOT)}:{text.count(chr(10), 0, m.start()) + 1}: {m.group(0)}"
                      for m in OUTSIDE.finditer(text)]
    assert not found, "references to files outside the repository:\n" + "\n".join(found)
