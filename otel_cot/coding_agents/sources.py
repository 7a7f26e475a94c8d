"""Where each agent keeps its session files, and which files under that directory are sessions.

The same paths on Linux, macOS and Windows (each agent keeps them under the user's home directory), moved by
the agent's own variable where it has one, and overridable per agent by ``otel-cot watch`` flags or
``OTEL_COT_WATCH_<AGENT>_DIR``:

| agent | default | the agent's own variable |
|---|---|---|
| Claude Code | ``~/.claude/projects`` | ``CLAUDE_CONFIG_DIR`` (then ``$CLAUDE_CONFIG_DIR/projects``) |
| Codex CLI | ``~/.codex/sessions`` | ``CODEX_HOME`` (then ``$CODEX_HOME/sessions``) |
| Gemini CLI | ``~/.gemini/tmp`` | ``GEMINI_CLI_HOME`` (then ``$GEMINI_CLI_HOME/.gemini/tmp``) |
"""

from __future__ import annotations

import os
from typing import Iterator, Mapping

from .model import CLAUDE_CODE, CODEX, GEMINI_CLI

LINES = "lines"  # appended to, line by line
DOCUMENT = "document"  # one JSON document rewritten in place (Gemini CLI's older .json)
OVERRIDE_VARIABLES = {CLAUDE_CODE: "OTEL_COT_WATCH_CLAUDE_CODE_DIR", CODEX: "OTEL_COT_WATCH_CODEX_DIR",
                      GEMINI_CLI: "OTEL_COT_WATCH_GEMINI_CLI_DIR"}


def default_dirs(env: Mapping[str, str] | None = None, home: str | None = None) -> dict[str, str]:
    env = os.environ if env is None else env
    home = home or os.path.expanduser("~")
    dirs = {
        CLAUDE_CODE: os.path.join(env["CLAUDE_CONFIG_DIR"], "projects") if env.get("CLAUDE_CONFIG_DIR")
        else os.path.join(home, ".claude", "projects"),
        CODEX: os.path.join(env["CODEX_HOME"], "sessions") if env.get("CODEX_HOME")
        else os.path.join(home, ".codex", "sessions"),
        GEMINI_CLI: os.path.join(env["GEMINI_CLI_HOME"], ".gemini", "tmp") if env.get("GEMINI_CLI_HOME")
        else os.path.join(home, ".gemini", "tmp"),
    }
    for agent, variable in OVERRIDE_VARIABLES.items():
        if env.get(variable):
            dirs[agent] = env[variable]
    return dirs


def session_files(agent: str, root: str) -> Iterator[tuple[str, str]]:
    """(path, kind) of every session file of ``agent`` under ``root``; nothing when ``root`` does not exist."""
    if agent == CLAUDE_CODE:  # <project>/<session>.jsonl, <project>/agent-*.jsonl, <project>/<session>/subagents/*
        for project in _dirs(root):
            for name, path in _entries(project):
                if name.endswith(".jsonl"):
                    yield path, LINES
                elif os.path.isdir(path):
                    for sub_name, sub_path in _entries(os.path.join(path, "subagents")):
                        if sub_name.endswith(".jsonl"):
                            yield sub_path, LINES
    elif agent == CODEX:  # YYYY/MM/DD/rollout-*.jsonl
        for dirpath, dirnames, filenames in os.walk(root):
            if dirpath[len(root):].count(os.sep) >= 3:
                dirnames[:] = []
            for name in filenames:
                if name.startswith("rollout-") and name.endswith(".jsonl"):
                    yield os.path.join(dirpath, name), LINES
    elif agent == GEMINI_CLI:  # <project hash>/chats/session-*.json[l], chats/<parent>/<id>.jsonl
        for project in _dirs(root):
            chats = os.path.join(project, "chats")
            for name, path in _entries(chats):
                if name.startswith("session-") and name.endswith(".jsonl"):
                    yield path, LINES
                elif name.startswith("session-") and name.endswith(".json"):
                    yield path, DOCUMENT
                elif os.path.isdir(path):
                    for sub_name, sub_path in _entries(path):
                        if sub_name.endswith(".jsonl"):
                            yield sub_path, LINES


def _entries(directory: str) -> list[tuple[str, str]]:
    try:
        return sorted((name, os.path.join(directory, name)) for name in os.listdir(directory))
    except OSError:
        return []


def _dirs(directory: str) -> list[str]:
    return [path for _name, path in _entries(directory) if os.path.isdir(path)]
