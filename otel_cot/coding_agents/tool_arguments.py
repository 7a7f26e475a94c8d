"""Coding agents' tool arguments in the shapes the detectors read.

Each agent names its shell and edit tools differently and shapes their arguments differently (a command
string, an argv list, a patch). They are normalised here into ``{"command": "<one shell line>", ...}`` and
``{"file_path", "old_string", "new_string"}``, so the destructive-action, secret and reward-hacking detectors
need no agent knowledge. Used by the session readers (``otel-cot watch``) and by the collector's mappers of
the agents' OTLP log events.
"""

from __future__ import annotations

import re
import shlex
from typing import Any

from otel_cot.detectors.actions import SHELL_TOOLS, TEST_PATH

from .reader import loads

_SHELLS = {"bash", "sh", "zsh", "dash", "ksh", "/bin/bash", "/bin/sh", "/bin/zsh", "/usr/bin/bash"}
_PATCH_FILE = re.compile(r"^\*\*\* (Add|Update|Delete) File: (.+)$")


def parse_json(value: Any) -> Any:
    """``value`` parsed when it is a JSON object or array in a string; otherwise ``value`` unchanged."""
    if isinstance(value, str):
        text = value.strip()
        if text[:1] in ("{", "["):
            try:
                return loads(text)
            except ValueError:
                return value
    return value


def argv_to_command(argv: list[Any]) -> str:
    """``["bash", "-lc", "rm -rf x"]`` → ``rm -rf x``; any other argv → its shell-quoted join."""
    parts = [str(a) for a in argv]
    if len(parts) >= 3 and parts[0] in _SHELLS and parts[1] in ("-c", "-lc", "-cl"):
        return parts[2]
    return shlex.join(parts)


def patch_edits(patch: str) -> list[dict[str, str]]:
    """The files a Codex ``apply_patch`` envelope changes, as edit arguments (old/new text per file)."""
    edits: list[dict[str, Any]] = []
    current: dict[str, Any] | None = None
    for line in patch.splitlines():
        m = _PATCH_FILE.match(line)
        if m:
            current = {"operation": m.group(1).lower(), "file_path": m.group(2).strip(), "old": [], "new": []}
            edits.append(current)
            continue
        if current is None or line.startswith(("*** ", "@@")):
            continue
        if line.startswith("-"):
            current["old"].append(line[1:])
        elif line.startswith("+"):
            current["new"].append(line[1:])
        elif line.startswith(" "):
            current["old"].append(line[1:])
            current["new"].append(line[1:])
    return [{"file_path": e["file_path"], "operation": e["operation"], "old_string": "\n".join(e["old"]),
             "new_string": "\n".join(e["new"])} for e in edits]


def normalise_tool(tool: str, arguments: Any) -> list[tuple[str, Any]]:
    """(tool, arguments) pairs the detectors understand. Several pairs when one patch edits several files."""
    args = parse_json(arguments)
    if isinstance(args, str) and "*** Begin Patch" in args:
        return [(tool, e) for e in patch_edits(args)] or [(tool, args)]
    if isinstance(args, dict):
        patch = args.get("input") or args.get("patch")
        if isinstance(patch, str) and "*** Begin Patch" in patch:
            return [(tool, e) for e in patch_edits(patch)] or [(tool, args)]
        command = args.get("command", args.get("cmd"))
        if isinstance(command, list):
            if command and str(command[0]) == "apply_patch" and len(command) > 1:
                return [("apply_patch", e) for e in patch_edits(str(command[1]))]
            args = {**args, "command": argv_to_command(command)}
            args.pop("cmd", None)
        elif isinstance(command, str) and "command" not in args:
            args = {**args, "command": command}
            args.pop("cmd", None)
        if "command" not in args and SHELL_TOOLS.match(tool):
            full = args.get("full_command") or args.get("bash_command")  # Claude Code's tool_parameters
            if isinstance(full, str):
                args = {**args, "command": full}
    return [(tool, args)]


def span_arguments(tool: str, arguments: Any) -> tuple[str, Any]:
    """One (tool, arguments) for an ``execute_tool`` span: :func:`normalise_tool`'s single pair, or for a patch
    that edits several files ``{"edits": [...], "file_path": ...}`` whose path is the first test file it
    touches (else its first file), with the old and new text of every file."""
    pairs = normalise_tool(tool, arguments)
    if len(pairs) == 1:
        return pairs[0]
    edits = [args for _, args in pairs]
    paths = [e["file_path"] for e in edits]
    path = next((p for p in paths if TEST_PATH.search(p)), paths[0])
    return pairs[0][0], {"file_path": path, "edits": edits}
