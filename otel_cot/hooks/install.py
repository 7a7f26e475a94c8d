"""``otel-cot hooks install|uninstall``: put the hook commands into an agent's settings file, and take them out.

| agent | ``--user`` (default) | ``--project DIR`` | events |
|---|---|---|---|
| Claude Code | ``~/.claude/settings.json`` (``$CLAUDE_CONFIG_DIR``) | ``DIR/.claude/settings.local.json`` | PreToolUse, PostToolUse, Stop, SessionEnd |
| Codex CLI | ``~/.codex/hooks.json`` (``$CODEX_HOME``) | ``DIR/.codex/hooks.json`` | PreToolUse, PostToolUse, Stop |
| Gemini CLI | ``~/.gemini/settings.json`` (``$GEMINI_CLI_HOME``) | ``DIR/.gemini/settings.json`` | BeforeTool, AfterTool, AfterAgent, SessionEnd |

(Claude Code's project file is ``settings.local.json``, the one not meant to be committed: the command names this
machine's interpreter.) ``--settings FILE`` names the file directly.

- **Merge**: one matcher group per event is appended to ``hooks.<Event>``, holding one command hook; everything
  else in the file (the user's hooks, other keys, their order, the indentation) is kept. Installing again
  replaces our groups in place (a new ``--policy`` takes effect), so it is idempotent.
- **Ours** are the hook commands that run ``otel_cot/hooks/client.py``; nothing else is touched.
- **Uninstall** takes our hooks out, and the event lists and ``hooks`` object that held only them. When what
  is left equals the file as it was before the first install (kept under the state directory), that file is
  put back byte for byte (or removed, if there was none); otherwise (the user changed it meanwhile) the rest
  is written back in the file's indentation.
- A settings file that is not valid JSON (or whose ``hooks`` is not an object of lists) is never written:
  the command stops with a one-line error and exit status 2.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shlex
import sys
from dataclasses import dataclass
from typing import Any, Mapping

from otel_cot.coding_agents.state import write_atomically

from . import client
from .client import CLAUDE_CODE, CODEX, GEMINI_CLI
from .policy import DEFAULT_POLICY

CLIENT_PATH = os.path.abspath(client.__file__)
OURS = re.compile(r"otel_cot[\\/]hooks[\\/]client\.py")


class SettingsError(Exception):
    """The settings file cannot be changed safely (not JSON, an unexpected shape)."""


@dataclass(frozen=True)
class AgentHooks:
    agent: str
    events: tuple[tuple[str, str | None], ...]  # (event, matcher or None)
    timeout: int  # in the unit the agent reads
    named: bool = False  # Gemini CLI shows hooks by name

    def settings_path(self, *, project: str | None = None, env: Mapping[str, str] | None = None) -> str:
        env = os.environ if env is None else env
        home = os.path.expanduser("~")
        if self.agent == CLAUDE_CODE:
            if project:
                return os.path.join(project, ".claude", "settings.local.json")
            return os.path.join(env.get("CLAUDE_CONFIG_DIR") or os.path.join(home, ".claude"), "settings.json")
        if self.agent == CODEX:
            if project:
                return os.path.join(project, ".codex", "hooks.json")
            return os.path.join(env.get("CODEX_HOME") or os.path.join(home, ".codex"), "hooks.json")
        if project:
            return os.path.join(project, ".gemini", "settings.json")
        return os.path.join(env.get("GEMINI_CLI_HOME") or home, ".gemini", "settings.json")

    def group(self, event: str, matcher: str | None, command: str) -> dict[str, Any]:
        hook: dict[str, Any] = {"type": "command", "command": command, "timeout": self.timeout}
        if self.named:
            hook = {"name": f"otel-cot-{event}", **hook}
        group: dict[str, Any] = {} if matcher is None else {"matcher": matcher}
        group["hooks"] = [hook]
        return group


AGENTS = {
    # Claude Code: timeout in seconds; "*" matches every tool.
    CLAUDE_CODE: AgentHooks(CLAUDE_CODE, (("PreToolUse", "*"), ("PostToolUse", "*"), ("Stop", None),
                                          ("SessionEnd", None)), 30),
    # Codex: hooks.json has Claude Code's shape; timeout in seconds; no matcher matches every tool. Codex has no
    # SessionEnd event (codex-rs/config/src/hook_config.rs): a key it does not know is not written into its file.
    CODEX: AgentHooks(CODEX, (("PreToolUse", None), ("PostToolUse", None), ("Stop", None)), 30),
    # Gemini CLI: timeout in milliseconds; no matcher matches every tool.
    GEMINI_CLI: AgentHooks(GEMINI_CLI, (("BeforeTool", None), ("AfterTool", None), ("AfterAgent", None),
                                        ("SessionEnd", None)), 30000, named=True),
}


def config_dir(env: Mapping[str, str] | None = None) -> str:
    env = os.environ if env is None else env
    return os.path.join(env.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config"), "otel-cot")


def default_policy_path(env: Mapping[str, str] | None = None) -> str:
    return os.path.join(config_dir(env), "hooks-policy.yaml")


def hook_command(agent: str, event: str, policy: str, python: str | None = None) -> str:
    """The shell command the agent runs: this interpreter, isolated and without site-packages, on the client."""
    for value in (policy, python or sys.executable, CLIENT_PATH):
        if any(c in value for c in "\t\n\r"):
            raise SettingsError(f"a path with a tab or newline cannot be used in a hook command: {value!r}")
    return " ".join(shlex.quote(part) for part in (python or sys.executable, "-I", "-S", CLIENT_PATH, agent, event,
                                                   "--policy", policy))


# --- reading and writing the settings file, keeping its form ---------------------------------------------------
def read_settings(path: str) -> tuple[bytes | None, dict[str, Any]]:
    """The file's bytes (None when it does not exist) and its JSON; :class:`SettingsError` when it cannot be
    changed safely."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except FileNotFoundError:
        return None, {}
    if not raw.strip():
        return raw, {}
    try:
        data = json.loads(raw)
    except ValueError as exc:
        if _has_comments(raw):  # Gemini CLI reads its settings with comments allowed
            raise SettingsError(f"{path} has comments, which rewriting it would lose; remove them and run this "
                                f"again, or install into another file (--settings FILE) and copy its \"hooks\" "
                                f"over by hand") from None
        raise SettingsError(f"{path} is not valid JSON ({exc}); fix it or remove it, then run this again") from None
    if not isinstance(data, dict):
        raise SettingsError(f"{path} is not a JSON object; not changing it")
    hooks = data.get("hooks", {})
    if not isinstance(hooks, dict) or any(k[:1].isupper() and not isinstance(v, list) for k, v in hooks.items()):
        raise SettingsError(f"{path}: \"hooks\" is not an object of event lists; not changing it")
    return raw, data


def _has_comments(raw: bytes) -> bool:
    """Whether ``raw`` has a ``//`` or ``/* */`` comment outside its strings."""
    text = raw.decode("utf-8", "replace")
    in_string = escaped = False
    for here, char in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char == "/" and text[here + 1:here + 2] in ("/", "*"):
            return True
    return False


def _indent(raw: bytes | None) -> str | int:
    for line in (raw or b"").decode("utf-8", "replace").splitlines()[1:]:
        stripped = line.lstrip(" \t")
        if stripped and len(stripped) < len(line):
            return line[:len(line) - len(stripped)] if line.startswith("\t") else len(line) - len(stripped)
    return 2


def _dump(data: Mapping[str, Any], raw: bytes | None) -> bytes:
    text = json.dumps(data, indent=_indent(raw), ensure_ascii=False)
    newline = raw is None or raw.endswith(b"\n") or not raw.strip()
    return (text + ("\n" if newline else "")).encode("utf-8")


def _write(path: str, content: bytes) -> None:
    """Atomically, keeping the file's permissions (a new file: 0644, as the agents write theirs). A settings file
    that is a symbolic link (into a dotfiles repository) stays one: the file it points to is replaced."""
    path = os.path.realpath(path)
    try:
        mode = os.stat(path).st_mode & 0o7777
    except FileNotFoundError:
        mode = 0o644
    write_atomically(path, content, mode)


def is_ours(hook: Any) -> bool:
    return isinstance(hook, Mapping) and isinstance(hook.get("command"), str) and bool(OURS.search(hook["command"]))


def _strip(data: dict[str, Any], original: Mapping[str, Any] | None) -> dict[str, Any]:
    """``data`` without our hooks, and without the containers that held only ours and were not in ``original``."""
    hooks = data.get("hooks")
    if not isinstance(hooks, dict):
        return data
    before = original.get("hooks") if isinstance(original, Mapping) else None
    before = before if isinstance(before, Mapping) else {}
    kept_hooks: dict[str, Any] = {}
    for event, groups in hooks.items():
        if not isinstance(groups, list):
            kept_hooks[event] = groups
            continue
        kept = []
        for group in groups:
            if isinstance(group, Mapping) and isinstance(group.get("hooks"), list) \
                    and any(is_ours(h) for h in group["hooks"]):
                rest = [h for h in group["hooks"] if not is_ours(h)]
                if not rest:
                    continue
                group = {**group, "hooks": rest}
            kept.append(group)
        if kept or event in before:
            kept_hooks[event] = kept
    out = dict(data)
    if kept_hooks or "hooks" in (original or {}):
        out["hooks"] = kept_hooks
    else:
        del out["hooks"]
    return out


# --- what was there before the first install ---------------------------------------------------------------------
def _record_path(settings: str, env: Mapping[str, str] | None = None) -> str:
    key = hashlib.sha256(os.path.abspath(settings).encode()).hexdigest()[:24]
    return os.path.join(client.state_dir(env), "hooks", "installed", key + ".json")


def _read_record(settings: str, env: Mapping[str, str] | None = None) -> dict[str, Any] | None:
    try:
        with open(_record_path(settings, env), encoding="utf-8") as fh:
            record = json.load(fh)
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def _original(record: Mapping[str, Any] | None) -> bytes | None:
    if record is None or not record.get("existed"):
        return None
    return base64.b64decode(record.get("original") or "")


# --- install / uninstall ---------------------------------------------------------------------------------------------
@dataclass
class Result:
    path: str
    changed: bool
    restored: bool = False  # uninstall put back the file as it was before the first install


def install(agent: str, settings: str, policy: str, *, env: Mapping[str, str] | None = None,
            python: str | None = None) -> Result:
    spec = AGENTS[agent]
    raw, data = read_settings(settings)
    if _read_record(settings, env) is None:  # the file as it was before otel-cot touched it, once
        record = {"settings": os.path.abspath(settings), "existed": raw is not None,
                  "original": base64.b64encode(raw or b"").decode()}
        _write(_record_path(settings, env), json.dumps(record).encode())
    hooks = data.setdefault("hooks", {})
    for event, matcher in spec.events:
        group = spec.group(event, matcher, hook_command(agent, event, policy, python))
        groups = hooks.setdefault(event, [])
        ours = [i for i, g in enumerate(groups) if isinstance(g, Mapping) and isinstance(g.get("hooks"), list)
                and any(is_ours(h) for h in g["hooks"])]
        if ours and groups[ours[0]] == group and len(ours) == 1:
            continue
        for i in reversed(ours[1:]):
            del groups[i]
        if ours:
            groups[ours[0]] = group
        else:
            groups.append(group)
    content = _dump(data, raw)
    if content == raw:
        return Result(settings, changed=False)
    _write(settings, content)
    return Result(settings, changed=True)


def uninstall(agent: str, settings: str, *, env: Mapping[str, str] | None = None) -> Result:
    if agent not in AGENTS:
        raise KeyError(agent)
    record = _read_record(settings, env)
    raw, data = read_settings(settings)
    original_raw = _original(record)
    original = _load_bytes(original_raw) if record is not None else None
    stripped = _strip(data, original)
    result = Result(settings, changed=False)
    if record is not None and stripped == (original or {}):
        if original_raw is None:
            if raw is not None:
                os.unlink(settings)
                result.changed = True
        elif raw != original_raw:
            _write(settings, original_raw)
            result.changed = True
        result.restored = True
    elif raw is not None and stripped != data:
        _write(settings, _dump(stripped, raw))
        result.changed = True
    try:
        os.unlink(_record_path(settings, env))
    except FileNotFoundError:
        pass
    return result


def _load_bytes(raw: bytes | None) -> dict[str, Any]:
    if raw is None or not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def installed(settings: str) -> list[str]:
    """The events of ``settings`` that run our hook."""
    try:
        _raw, data = read_settings(settings)
    except SettingsError:
        return []
    hooks = data.get("hooks") or {}
    return [event for event, groups in hooks.items() if isinstance(groups, list) and any(
        isinstance(g, Mapping) and isinstance(g.get("hooks"), list) and any(is_ours(h) for h in g["hooks"])
        for g in groups)]


def ensure_policy(path: str) -> bool:
    """Write the default policy to ``path`` unless a file is there; True when it was written."""
    if os.path.exists(path):
        return False
    _write(path, DEFAULT_POLICY.encode())
    return True
