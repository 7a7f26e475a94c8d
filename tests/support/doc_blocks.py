"""The shell commands of the README and docs/*.md, as fenced ```bash / ```sh / ```console blocks, with what
the line just before a block says about running it:

    <!-- doc-test: skip: REASON -->      cannot run here (an API key, docker, the user's own program)
    <!-- doc-test: install: REASON -->   an install line, run in a fresh virtualenv by test_install_lines.py
    <!-- doc-test: e2e -->               needs the Go-built Jaeger or OpenTelemetry Collector
    <!-- doc-test: expect: REGEX -->     the block's output (stdout and stderr) must match REGEX

Several such lines may precede one block. In ``console`` blocks the commands are the ``$ `` lines.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHELL = {"bash", "sh", "shell", "console"}
_FENCE = re.compile(r"^(\s*)```+\s*([\w-]*)\s*$")
_DIRECTIVE = re.compile(r"^\s*<!--\s*doc-test:\s*(skip|install|e2e|expect)\s*(?::\s*(.*?))?\s*-->\s*$")


@dataclass
class Block:
    doc: str  # path relative to the repository root
    line: int  # of the opening fence
    lang: str
    code: str
    directives: dict[str, str] = field(default_factory=dict)

    @property
    def where(self) -> str:
        return f"{self.doc}:{self.line}"

    @property
    def runs_here(self) -> bool:
        return "skip" not in self.directives and "install" not in self.directives


def doc_files() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def blocks(path: Path, root: Path = ROOT) -> list[Block]:
    """The shell blocks of one Markdown file, in order (``doc`` relative to ``root``)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    out: list[Block] = []
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, lang = m.group(1), m.group(2).lower()
        j = i + 1
        while j < len(lines) and not re.match(rf"^{re.escape(indent)}```+\s*$", lines[j]):
            j += 1
        if lang in SHELL:
            body = [ln[len(indent):] if ln.startswith(indent) else ln for ln in lines[i + 1:j]]
            out.append(Block(str(path.relative_to(root)), i + 1, lang, _commands(body, lang),
                             _directives(lines, i)))
        i = j + 1
    return out


def _directives(lines: list[str], fence: int) -> dict[str, str]:
    found: dict[str, str] = {}
    k = fence - 1
    while k >= 0 and (m := _DIRECTIVE.match(lines[k])):
        found[m.group(1)] = m.group(2) or ""
        k -= 1
    return found


def _commands(body: list[str], lang: str) -> str:
    if lang != "console":
        return "\n".join(body) + "\n"
    cmds: list[str] = []
    continuing = False
    for ln in body:
        if ln.startswith("$ ") or continuing:
            cmd = ln[2:] if ln.startswith("$ ") and not continuing else ln
            cmds.append(cmd)
            continuing = cmd.rstrip().endswith("\\")
    return "\n".join(cmds) + "\n"


def all_blocks() -> list[Block]:
    return [b for path in doc_files() for b in blocks(path)]
