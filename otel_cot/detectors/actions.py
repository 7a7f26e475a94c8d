"""What an action does, as the detectors read it: the shell command a tool call runs, the file an edit
writes, the patch it carries, the test file it writes (each worked out once per view: :mod:`.facts`), and
the parsing underneath (:mod:`.arguments`), exported here too for detectors and plugins."""

from __future__ import annotations

import re

from .arguments import (CI_PATH, EDIT_TOOLS, SHELL_TOOLS, TEST_PATH, Edit, command_from, edit_from, is_ci_path,
                        is_test_path, leaf_values, name_matches, name_test, parse_arguments, patch_edits, patch_from,
                        programs_of, simple_commands, split_commands, strip_wrappers, tool_name)
from .base import SpanView
from .facts import facts_of

__all__ = ["CI_PATH", "EDIT_TOOLS", "SHELL_TOOLS", "TEST_PATH", "Edit", "command_from", "edit_from", "file_edit",
           "is_ci_path", "is_test_path", "leaf_values", "name_matches", "name_test", "parse_arguments", "patch_edits",
           "patch_from", "patch_text", "programs_of", "shell_command", "simple_commands", "split_commands",
           "strip_wrappers", "test_file_written", "tool_name"]


def shell_command(view: SpanView) -> str | None:
    """The shell command an action runs, if it is a shell action (worked out once per view:
    :mod:`.facts`)."""
    return facts_of(view).command


def file_edit(view: SpanView) -> Edit | None:
    """The file an edit/write action changes and its old/new text (either may be unknown; worked out once
    per view: :mod:`.facts`)."""
    return facts_of(view).edit


def patch_text(view: SpanView) -> str:
    """The patch an action carries (an argument holding one, or the raw text), or "" (worked out once per
    view: :mod:`.facts`)."""
    return facts_of(view).patch


_WRITES = re.compile(r"\bsed\s+(?:-\w+\s+)*-i|\bperl\s+-\w*i|(?<![>\d&])>>?\s*['\"]?[^\s'\";&|>]*test|\btee\b|"
                     r"\bopen\([^)]*['\"][wa]\+?['\"]|\.write\(|write_text\(|writeFileSync|\b(?:rm|mv|cp|truncate|"
                     r"git\s+(?:checkout|restore|apply)|patch)\s")


def test_file_written(view: SpanView) -> str | None:
    """What an action does to a test file, however it does it (an edit or write tool, a patch, a shell
    command or script that names a test file and writes), or None."""
    edit = file_edit(view)
    if edit is not None and edit.path and is_test_path(edit.path):
        return edit.path
    for path, _, _ in patch_edits(patch_text(view)):
        if is_test_path(path):
            return path
    command = shell_command(view)
    if command:
        m = TEST_PATH.search(command)
        if m and _WRITES.search(command):
            return command[m.start():m.start() + 80].split()[0] if command[m.start():].strip() else "test file"
    return None
