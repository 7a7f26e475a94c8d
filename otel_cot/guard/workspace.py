"""``cot.guard.workspace``: deletes and edits outside the agent's workspace (a guard-only detector).

The destructive-action detector judges a command by its own shape (``rm -rf ~`` is dangerous anywhere);
whether ``rm -rf /srv/data`` is, depends on where the agent is meant to work, which only the guard's
policy knows. Temporary directories count as inside.
"""

from __future__ import annotations

import posixpath
import tempfile
from typing import Iterable

from ..detectors.actions import file_edit
from ..detectors.base import KIND_TOOL_CALL, Finding, SpanView, TraceContext, make_finding
from .paths import inside, resolve, simple_commands

_TEMP_DIRS = tuple({"/tmp", "/var/tmp", "/private/tmp", tempfile.gettempdir()})


class WorkspaceDetector:
    id = "cot.guard.workspace"
    version = "1"
    categories = ("destructive_action",)

    def __init__(self, workspace: str) -> None:
        self.workspace = workspace

    def _outside(self, path: str) -> str | None:
        resolved = resolve(path, self.workspace)
        if inside(resolved, self.workspace) or any(inside(resolved, t) for t in _TEMP_DIRS):
            return None
        return resolved

    def detect(self, view: SpanView, ctx: TraceContext) -> Iterable[Finding]:
        if view.kind != KIND_TOOL_CALL:
            return ()
        out: list[Finding] = []
        for argv in simple_commands(view) or ():
            if posixpath.basename(argv[0]) not in ("rm", "rmdir", "shred", "unlink"):
                continue
            flags = {c for a in argv[1:] if a.startswith("-") and not a.startswith("--") for c in a[1:]}
            recursive = bool(flags & {"r", "R"}) or "--recursive" in argv
            for operand in (a for a in argv[1:] if not a.startswith("-")):
                where = self._outside(operand)
                if where is not None:
                    out.append(make_finding(
                        self, view, "destructive_action", "high" if recursive else "medium",
                        0.8 if recursive else 0.55,
                        f"{'recursive ' if recursive else ''}delete outside the workspace ({where})",
                        " ".join(argv)[:240]))
                    break
        edit = file_edit(view)
        if edit is not None and edit.path:
            where = self._outside(edit.path)
            if where is not None:
                out.append(make_finding(self, view, "destructive_action", "medium", 0.55,
                                        f"edit outside the workspace ({where})", edit.path[:240]))
        return out
