"""The paths and commands a pending tool call touches, for allow-lists and the workspace check."""

from __future__ import annotations

import fnmatch
import os
import posixpath

from ..detectors.actions import file_edit, shell_command, split_commands, strip_wrappers
from ..detectors.base import SpanView

# Programs whose every operand is a file they change: their operands count as paths even without a '/'.
FILE_PROGRAMS = frozenset({"rm", "rmdir", "unlink", "shred", "truncate", "mv", "cp", "chmod", "chown",
                           "chgrp", "touch", "tee", "ln", "mkdir", "install"})


def simple_commands(view: SpanView) -> list[list[str]] | None:
    """The call's shell command as argv lists (wrappers such as ``sudo`` dropped), or None if not a shell call."""
    command = shell_command(view)
    if command is None:
        return None
    return [argv for argv in (strip_wrappers(a) for a in split_commands(command[:100_000])) if argv]


def touched_paths(view: SpanView, commands: list[list[str]] | None) -> list[str]:
    """The files a call writes or removes: an edit's path, or the path operands of its shell commands."""
    edit = file_edit(view)
    if edit is not None and edit.path:
        return [edit.path]
    out: list[str] = []
    for argv in commands or ():
        prog = posixpath.basename(argv[0])
        operands = [a for a in argv[1:] if a and not a.startswith("-")]
        if prog in FILE_PROGRAMS:
            out.extend(operands)
        else:
            out.extend(a for a in operands if "/" in a or a.startswith((".", "~")))
    return out


def resolve(path: str, workspace: str) -> str:
    """``path`` as an absolute, normalised path (``~`` and ``$HOME`` expanded, relative to ``workspace``)."""
    p = path.strip().strip("'\"")
    if p.startswith(("$HOME", "${HOME}")):
        p = "~" + p[p.index("}") + 1 if p.startswith("${") else 5:]
    p = os.path.expanduser(p)
    if not os.path.isabs(p):
        p = os.path.join(workspace, p)
    return os.path.normpath(p)


def path_matches(path: str, pattern: str) -> bool:
    """``pattern`` is an absolute glob; ``dir/**`` also matches ``dir`` itself."""
    if pattern.endswith("/**") and path == pattern[:-3]:
        return True
    return fnmatch.fnmatchcase(path, pattern)


def glob_root(pattern: str) -> str:
    """The directory an absolute glob starts from: the part before its first wildcard (``/tmp/**`` ->
    ``/tmp``, ``/ws/build/*.o`` -> ``/ws/build``); a pattern without wildcards is its own root."""
    cut = min((pattern.index(c) for c in "*?[" if c in pattern), default=None)
    if cut is None:
        return pattern
    head = pattern[:cut]
    return head.rstrip("/") or "/" if head.endswith("/") else (os.path.dirname(head) or "/")


def allows(pattern: str, path: str, workspace: str | None) -> bool:
    """Whether an allow-list path glob allows ``path``. A glob that reaches into the workspace from outside
    it (``/tmp/**`` with the workspace under /tmp) does not allow paths inside the workspace: scratch
    globs must not switch the guard off for the repository itself; name paths in it relative to it
    (``./build/**``)."""
    if not path_matches(path, pattern):
        return False
    return workspace is None or not inside(path, workspace) or inside(glob_root(pattern), workspace)


def inside(path: str, directory: str) -> bool:
    return path == directory or path.startswith(directory.rstrip(os.sep) + os.sep)
