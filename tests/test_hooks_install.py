"""``otel-cot hooks install|uninstall``: the hooks merged into each agent's settings file and taken out again,
keeping everything else; a file that is not JSON is refused, never overwritten."""

from __future__ import annotations

import json
import os
import shlex
import subprocess

import pytest

from otel_cot.hooks.install import AGENTS, default_policy_path, is_ours
from otel_cot.hooks.policy import DEFAULT_POLICY
from tests.support.cli import run_here
from tests.support.hook_env import otel_cot


# A settings file as a user might have it: other hooks (one on the same event as ours), other keys, tabs.
USER_SETTINGS = b"""{
\t"model": "opus",
\t"permissions": {
\t\t"allow": ["Bash(npm test:*)"]
\t},
\t"hooks": {
\t\t"PreToolUse": [
\t\t\t{
\t\t\t\t"matcher": "Bash",
\t\t\t\t"hooks": [{"type": "command", "command": "/usr/local/bin/audit-bash"}]
\t\t\t}
\t\t],
\t\t"Notification": [{"hooks": [{"type": "command", "command": "notify-send claude"}]}]
\t},
\t"env": {"FOO": "1"}
}
"""

SETTINGS = {"claude-code": (".claude", "settings.json"), "codex": (".codex", "hooks.json"),
            "gemini-cli": (".gemini", "settings.json")}


@pytest.fixture
def env(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    e = {k: v for k, v in os.environ.items() if k not in ("CLAUDE_CONFIG_DIR", "CODEX_HOME", "GEMINI_CLI_HOME")}
    e.update(HOME=str(home), XDG_STATE_HOME=str(home / "state"), XDG_CONFIG_HOME=str(home / "config"))
    return e


def _settings(env, agent):
    return os.path.join(env["HOME"], *SETTINGS[agent])


def _read(path):
    with open(path, "rb") as fh:
        return fh.read()


def _write(path, content):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as fh:
        fh.write(content)


def _ours(data):
    return {event: [h for g in groups for h in g.get("hooks", []) if is_ours(h)]
            for event, groups in data.get("hooks", {}).items()}


@pytest.mark.parametrize("agent", ["claude-code", "codex", "gemini-cli"])
@pytest.mark.process  # the command as the user runs it; the other tests run it in this process
def test_install_adds_one_hook_per_event_and_writes_the_default_policy(env, agent):
    proc = otel_cot(env, "hooks", "install", agent)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(_read(_settings(env, agent)))
    key = agent.replace("-", "_")
    expected = [event for event, _matcher in AGENTS[key].events]
    assert list(data["hooks"]) == expected
    for event in expected:
        (hook,) = _ours(data)[event]
        argv = shlex.split(hook["command"])
        assert argv[1:3] == ["-I", "-S"] and argv[3].endswith(os.path.join("otel_cot", "hooks", "client.py"))
        assert argv[4:] == [key, event, "--policy", default_policy_path(env)]
        assert hook["timeout"] == (30000 if agent == "gemini-cli" else 30)
    with open(default_policy_path(env), encoding="utf-8") as fh:
        assert fh.read() == DEFAULT_POLICY
    assert "policy" in proc.stdout and default_policy_path(env) in proc.stdout


def test_install_is_idempotent_and_keeps_the_users_hooks_and_keys(env):
    path = _settings(env, "claude-code")
    _write(path, USER_SETTINGS)
    assert run_here("hooks", "install", "claude-code", env=env).returncode == 0
    once = _read(path)
    second = run_here("hooks", "install", "claude-code", env=env)
    assert second.returncode == 0 and "already installed" in second.stdout
    assert _read(path) == once  # byte for byte

    data = json.loads(once)
    original = json.loads(USER_SETTINGS)
    assert {k: v for k, v in data.items() if k != "hooks"} == {k: v for k, v in original.items() if k != "hooks"}
    assert list(data) == list(original)  # key order kept
    assert data["hooks"]["PreToolUse"][0] == original["hooks"]["PreToolUse"][0]  # the user's group first, untouched
    assert data["hooks"]["Notification"] == original["hooks"]["Notification"]
    assert len(_ours(data)["PreToolUse"]) == 1
    assert once.startswith(b'{\n\t"model"')  # the file's indentation (tabs)


def test_install_with_another_policy_replaces_our_hooks_in_place(env, tmp_path):
    path = _settings(env, "claude-code")
    _write(path, USER_SETTINGS)
    assert run_here("hooks", "install", "claude-code", env=env).returncode == 0
    policy = tmp_path / "strict.yaml"
    policy.write_text("guard:\n  default: block\n")
    assert run_here("hooks", "install", "claude-code", "--policy", str(policy), env=env).returncode == 0
    data = json.loads(_read(path))
    for event, hooks in _ours(data).items():
        if event in ("PreToolUse", "PostToolUse", "Stop", "SessionEnd"):
            (hook,) = hooks
            assert shlex.split(hook["command"])[-1] == str(policy)
    assert policy.read_text() == "guard:\n  default: block\n"  # a policy the user wrote is never overwritten


@pytest.mark.parametrize("agent", ["claude-code", "codex", "gemini-cli"])
def test_uninstall_restores_the_file_byte_for_byte(env, agent):
    path = _settings(env, agent)
    original = USER_SETTINGS.replace(b"PreToolUse", b"BeforeTool") if agent == "gemini-cli" else USER_SETTINGS
    _write(path, original)
    assert run_here("hooks", "install", agent, env=env).returncode == 0
    assert _read(path) != original
    proc = run_here("hooks", "uninstall", agent, env=env)
    assert proc.returncode == 0 and "restored" in proc.stdout
    assert _read(path) == original
    again = run_here("hooks", "uninstall", agent, env=env)
    assert again.returncode == 0 and "not installed" in again.stdout and _read(path) == original


def test_uninstall_removes_a_settings_file_the_install_created(env):
    path = _settings(env, "claude-code")
    assert run_here("hooks", "install", "claude-code", env=env).returncode == 0
    assert os.path.exists(path)
    assert run_here("hooks", "uninstall", "claude-code", env=env).returncode == 0
    assert not os.path.exists(path)


def test_uninstall_after_the_user_edited_the_file_removes_only_our_entries(env):
    path = _settings(env, "claude-code")
    _write(path, USER_SETTINGS)
    assert run_here("hooks", "install", "claude-code", env=env).returncode == 0
    data = json.loads(_read(path))
    # meanwhile the user changes a setting, adds a hook of their own next to ours, and a new event
    data["model"] = "sonnet"
    ours_group = next(g for g in data["hooks"]["PostToolUse"] if any(is_ours(h) for h in g["hooks"]))
    ours_group["hooks"].append({"type": "command", "command": "prettier --write"})
    data["hooks"]["UserPromptSubmit"] = [{"hooks": [{"type": "command", "command": "log-prompt"}]}]
    _write(path, (json.dumps(data, indent="\t") + "\n").encode())

    proc = run_here("hooks", "uninstall", "claude-code", env=env)
    assert proc.returncode == 0 and "removed" in proc.stdout
    after = json.loads(_read(path))
    expected = json.loads(USER_SETTINGS)
    expected["model"] = "sonnet"
    expected["hooks"]["PostToolUse"] = [{"matcher": "*", "hooks": [{"type": "command", "command": "prettier --write"}]}]
    expected["hooks"]["UserPromptSubmit"] = [{"hooks": [{"type": "command", "command": "log-prompt"}]}]
    assert after == expected
    assert not any(_ours(after).values())
    assert _read(path).startswith(b'{\n\t"model"')


@pytest.mark.parametrize("content", [b'{"hooks": {"PreToolUse": [}', b"// comment\n{}", b"[1, 2]",
                                     b'{"hooks": {"PreToolUse": {"matcher": "*"}}}'])
@pytest.mark.parametrize("command", ["install", "uninstall"])
def test_a_settings_file_that_is_not_valid_json_is_refused_and_left_alone(env, content, command):
    path = _settings(env, "claude-code")
    _write(path, content)
    proc = run_here("hooks", command, "claude-code", env=env)
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("otel-cot hooks: ") and path in lines[0]
    assert _read(path) == content
    assert not os.path.exists(default_policy_path(env))


@pytest.mark.parametrize("agent,where", [("claude-code", (".claude", "settings.local.json")),
                                         ("codex", (".codex", "hooks.json")),
                                         ("gemini-cli", (".gemini", "settings.json"))])
def test_project_and_explicit_settings_files(env, tmp_path, agent, where):
    project = tmp_path / "repo"
    project.mkdir()
    assert run_here("hooks", "install", agent, "--project", str(project), env=env).returncode == 0
    assert os.path.exists(os.path.join(project, *where))
    assert not os.path.exists(_settings(env, agent))
    explicit = tmp_path / "elsewhere.json"
    assert run_here("hooks", "install", agent, "--settings", str(explicit), env=env).returncode == 0
    assert any(_ours(json.loads(explicit.read_bytes())).values())
    status = run_here("hooks", "status", "--project", str(project), env=env)
    assert os.path.join(project, *where) in status.stdout


@pytest.mark.process
def test_the_installed_command_runs_through_a_shell_and_answers_when_no_checker_can_start(env, tmp_path):
    """The command as written, run by /bin/sh with the agent's JSON on stdin: with a checker that cannot start
    (a python that exits at once), the call is allowed (exit 0, nothing on stdout) and the error logged."""
    assert run_here("hooks", "install", "claude-code", env=env).returncode == 0
    (hook,) = _ours(json.loads(_read(_settings(env, "claude-code"))))["PreToolUse"]
    run_env = dict(env, OTEL_COT_HOOKS_SOCKET=str(tmp_path / "no.sock"), OTEL_COT_HOOKS_PYTHON="/bin/false",
                   OTEL_COT_HOOKS_START_MS="300")
    payload = {"session_id": "s", "transcript_path": "/nonexistent", "cwd": "/", "hook_event_name": "PreToolUse",
               "tool_name": "Bash", "tool_input": {"command": "ls"}, "tool_use_id": "t1"}
    proc = subprocess.run(hook["command"], shell=True, input=json.dumps(payload).encode(), env=run_env,
                          capture_output=True, timeout=60)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, b"", b"")
    with open(os.path.join(env["XDG_STATE_HOME"], "otel-cot", "hooks.log"), encoding="utf-8") as fh:
        assert "the checker did not start within 300 ms" in fh.read()


@pytest.mark.parametrize("agent", ["claude-code", "gemini-cli"])
def test_a_settings_file_that_is_a_symlink_stays_one(env, tmp_path, agent):
    """Settings kept in a dotfiles repository and linked into place: install and uninstall change the file the
    link points to, and the link stays."""
    target = tmp_path / "dotfiles" / "settings.json"
    _write(str(target), USER_SETTINGS)
    path = _settings(env, agent)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    os.symlink(target, path)
    assert run_here("hooks", "install", agent, env=env).returncode == 0
    assert os.path.islink(path) and any(_ours(json.loads(_read(str(target)))).values())
    assert run_here("hooks", "uninstall", agent, env=env).returncode == 0
    assert os.path.islink(path) and _read(str(target)) == USER_SETTINGS


def test_a_gemini_settings_file_with_comments_is_refused_with_the_reason(env):
    """Gemini CLI allows comments in its settings.json; rewriting the file would drop them."""
    path = _settings(env, "gemini-cli")
    content = b'{\n  // my theme\n  "theme": "GitHub", /* and a URL: */ "docs": "https://x.example/a//b"\n}\n'
    _write(path, content)
    proc = run_here("hooks", "install", "gemini-cli", env=env)
    assert proc.returncode == 2 and "has comments" in proc.stderr and path in proc.stderr
    assert _read(path) == content
    _write(path, b'{"docs": "https://x.example/a//b", "note": "/* not a comment */", }')
    proc = run_here("hooks", "install", "gemini-cli", env=env)
    assert proc.returncode == 2 and "is not valid JSON" in proc.stderr
