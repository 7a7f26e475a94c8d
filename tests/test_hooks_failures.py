"""The hooks never fail the agent: a broken policy file, a missing transcript, a transcript of garbage, bad hook
input, a checker that hangs or cannot be started. The call is allowed (``on_error: open``, the default) or denied
(``on_error: closed``), the error is appended to the hooks log and recorded as the call's guard decision (so the
exported tool span carries ``cot.guard.error``), and the exit status and stdout are what the agent's protocol
expects. Each case runs the installed hook command through a shell, as the agent does."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time

import pytest

from otel_cot import semconv as sc
from otel_cot.coding_agents.guard_decisions import GuardDecisions
from otel_cot.hooks import client
from otel_cot.hooks.policy import DEFAULT_POLICY
from tests.support.cli import run_here
from tests.support.hook_env import hook_env
from tests.support.hook_replay import HookCommands

pytestmark = pytest.mark.process  # runs the otel-cot CLI, the hook commands or the checker as processes

HARMLESS = {"command": "ls -la"}
FORCE_PUSH = {"command": "git push --force origin main"}


@pytest.fixture
def env(tmp_path):
    yield from hook_env(str(tmp_path / "home"))


def _hooks(env, agent="claude-code", policy_text=None):
    policy = os.path.join(env["HOME"], "policy.yaml")
    with open(policy, "w", encoding="utf-8") as fh:
        fh.write(DEFAULT_POLICY if policy_text is None else policy_text)
    proc = run_here("hooks", "install", agent, "--policy", policy, env=env)
    assert proc.returncode == 0, proc.stderr
    settings = os.path.join(env["HOME"], ".gemini" if agent == "gemini-cli" else ".claude", "settings.json")
    return HookCommands(agent.replace("-", "_"), settings, env, cwd=env["HOME"])


def _pre(hooks, transcript, tool_input=HARMLESS, call_id="toolu_1", session="sess-1", raw=None):
    event = "BeforeTool" if hooks.agent == "gemini_cli" else "PreToolUse"
    tool = "run_shell_command" if hooks.agent == "gemini_cli" else "Bash"
    payload = {"session_id": session, "transcript_path": transcript, "cwd": "/w", "hook_event_name": event,
               "tool_name": tool, "tool_input": tool_input, "tool_use_id": call_id}
    if raw is not None:
        (command,) = hooks.commands(event, tool)
        proc = subprocess.run(command, shell=True, input=raw, env=hooks.env, capture_output=True, timeout=60)
        return proc
    (call,) = hooks.fire(event, payload, tool)
    return call


def _log(env):
    with open(client.log_path(env), encoding="utf-8") as fh:
        return fh.read()


def _decision(env, call_id, session="sess-1"):
    decisions = GuardDecisions(client.state_dir(env))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        found = decisions.lookup("claude_code", session, call_id)
        if found:
            return found["attributes"]
        time.sleep(0.05)
    raise AssertionError(f"no decision recorded for {call_id}")


def _closed(text):
    return text.replace("on_error: open", "on_error: closed")


JUDGED = json.dumps({"hookSpecificOutput": {"hookEventName": "PreToolUse", "permissionDecision": "deny",
                                            "permissionDecisionReason": "judged"}}).encode()


def _answer_judged(conn):
    """Read one request on ``conn`` and answer it as a checker would, with a deny "judged"."""
    data = b""
    while not data.endswith(b"}"):
        data += conn.recv(65536)
    conn.sendall(b"OTC1\t0\t%d\t0\n" % len(JUDGED) + JUDGED)
    conn.close()


def _in_process(tmp_path):
    """A checker's service in this process, the default policy file and an empty transcript."""
    from otel_cot.hooks.service import HookService

    policy = tmp_path / "policy.yaml"
    policy.write_text(DEFAULT_POLICY)
    transcript = tmp_path / "t.jsonl"
    transcript.write_text("")
    return HookService(state_dir=str(tmp_path / "state"), export=False), str(policy), transcript


# --- the policy file -------------------------------------------------------------------------------------------------
BROKEN = {
    "yaml": "guard:\n  rules: [\n  on_error: open\n",  # not YAML
    "action": DEFAULT_POLICY.replace("action: block", "action: explode"),  # YAML, not a policy
}


@pytest.mark.parametrize("kind", list(BROKEN))
def test_a_broken_policy_file_allows_the_call_and_records_the_error(env, kind, tmp_path):
    hooks = _hooks(env, policy_text=BROKEN[kind])
    transcript = tmp_path / "t.jsonl"
    transcript.write_text("")
    call = _pre(hooks, str(transcript), FORCE_PUSH, call_id="toolu_broken")
    assert (call.code, call.stdout, call.stderr, call.verdict) == (0, "", "", "allow")
    assert "cannot be used" in _log(env)
    attributes = _decision(env, "toolu_broken")
    assert attributes[sc.COT_GUARD_RULE] == "on_error:open" and attributes[sc.COT_GUARD_DECISION] == "allowed"
    assert "cannot be used" in attributes[sc.COT_GUARD_ERROR]


@pytest.mark.parametrize("kind", list(BROKEN))
def test_a_broken_policy_file_that_says_on_error_closed_denies(env, kind, tmp_path):
    hooks = _hooks(env, policy_text=_closed(BROKEN[kind]))
    transcript = tmp_path / "t.jsonl"
    transcript.write_text("")
    call = _pre(hooks, str(transcript), HARMLESS, call_id="toolu_closed")
    assert (call.code, call.verdict) == (0, "deny")
    assert "fails closed" in call.reason and "cannot be used" in call.reason
    assert _decision(env, "toolu_closed")[sc.COT_GUARD_RULE] == "on_error:closed"


# --- the transcript ----------------------------------------------------------------------------------------------------
def _garbage(tmp_path):
    path = tmp_path / "garbage.jsonl"
    path.write_bytes(b"\x00\xff\xfe garbage\nnot json either\n[1, 2, 3]\n" + os.urandom(256).replace(b"\n", b"") + b"\n")
    return str(path)


TRANSCRIPTS = {"missing": lambda tmp_path: str(tmp_path / "gone.jsonl"), "garbage": _garbage}


@pytest.mark.parametrize("kind", list(TRANSCRIPTS))
def test_an_unreadable_transcript_allows_a_harmless_call_and_records_the_error(env, kind, tmp_path):
    hooks = _hooks(env)
    call = _pre(hooks, TRANSCRIPTS[kind](tmp_path), HARMLESS, call_id=f"toolu_{kind}")
    assert (call.code, call.stdout, call.stderr, call.verdict) == (0, "", "", "allow")
    attributes = _decision(env, f"toolu_{kind}")
    assert attributes[sc.COT_GUARD_DECISION] == "allowed" and attributes[sc.COT_GUARD_RULE] == "on_error:open"
    expected = "transcript not found" if kind == "missing" else "holds no readable record"
    assert expected in attributes[sc.COT_GUARD_ERROR] and expected in _log(env)


@pytest.mark.parametrize("kind", list(TRANSCRIPTS))
def test_an_unreadable_transcript_with_on_error_closed_denies(env, kind, tmp_path):
    hooks = _hooks(env, policy_text=_closed(DEFAULT_POLICY))
    call = _pre(hooks, TRANSCRIPTS[kind](tmp_path), HARMLESS, call_id=f"toolu_{kind}")
    assert (call.code, call.verdict) == (0, "deny")
    assert "could not read this session's history" in call.reason
    assert _decision(env, f"toolu_{kind}")[sc.COT_GUARD_RULE] == "on_error:closed"


def test_without_its_history_a_call_is_still_judged_on_its_own(env, tmp_path):
    hooks = _hooks(env)
    call = _pre(hooks, str(tmp_path / "gone.jsonl"), FORCE_PUSH, call_id="toolu_push")
    assert call.verdict == "deny" and "remote history" in call.reason
    attributes = _decision(env, "toolu_push")
    assert attributes[sc.COT_GUARD_DECISION] == "blocked" and "transcript not found" in attributes[sc.COT_GUARD_ERROR]


def test_hook_input_that_is_not_json_is_allowed_and_logged(env):
    hooks = _hooks(env)
    proc = _pre(hooks, "", raw=b"\x00 this is not json")
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, b"", b"")
    assert "the hook input is not JSON" in _log(env)


# --- the checker ----------------------------------------------------------------------------------------------------------
class HangingChecker:
    """A unix socket that accepts connections and never answers."""

    def __init__(self, path: str) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(8)
        self.held: list[socket.socket] = []
        self.closed = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.closed.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)

    def close(self) -> None:
        self.closed.set()
        self.sock.close()
        for conn in self.held:
            conn.close()


def _checker_cases(env, tmp_path, case):
    """(environment, cleanup) for a checker that hangs, or one that is gone and cannot be started."""
    if case == "hangs":
        path = os.path.join(os.path.dirname(env["OTEL_COT_HOOKS_SOCKET"]), "hang.sock")
        checker = HangingChecker(path)
        return dict(env, OTEL_COT_HOOKS_SOCKET=path, OTEL_COT_HOOKS_TIMEOUT_MS="400"), checker.close
    path = os.path.join(os.path.dirname(env["OTEL_COT_HOOKS_SOCKET"]), "gone.sock")
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(path)  # a socket file nobody listens on: the checker died
    stale.close()
    return dict(env, OTEL_COT_HOOKS_SOCKET=path, OTEL_COT_HOOKS_PYTHON="/bin/false",
                OTEL_COT_HOOKS_START_MS="400"), lambda: None


@pytest.mark.parametrize("agent", ["claude-code", "gemini-cli"])
@pytest.mark.parametrize("case", ["hangs", "gone"])
def test_a_checker_that_hangs_or_is_gone_allows_the_call_in_time(env, tmp_path, case, agent):
    hooks = _hooks(env, agent)
    hooks.env, cleanup = _checker_cases(env, tmp_path, case)
    try:
        started = time.monotonic()
        call = _pre(hooks, str(tmp_path / "t.jsonl"), FORCE_PUSH, call_id="toolu_lost")
        elapsed = time.monotonic() - started
    finally:
        cleanup()
    assert (call.code, call.stderr, call.verdict) == (0, "", "allow")
    assert call.stdout == ("{}" if agent == "gemini-cli" else "")
    assert elapsed < 20
    message = "no answer from the checker within 400 ms" if case == "hangs" else "did not start within 400 ms"
    assert message in _log(env)
    if agent == "claude-code":  # Gemini CLI gives hooks no call id to record a decision under
        attributes = _decision(env, "toolu_lost")
        assert attributes[sc.COT_GUARD_RULE] == "on_error:open" and message in attributes[sc.COT_GUARD_ERROR]


def test_after_a_failed_start_the_next_calls_do_not_wait_for_another(env, tmp_path):
    hooks = _hooks(env)
    hooks.env, cleanup = _checker_cases(env, tmp_path, "gone")
    hooks.env["OTEL_COT_HOOKS_START_MS"] = "3000"
    first = time.monotonic()
    assert _pre(hooks, str(tmp_path / "t.jsonl"), HARMLESS, call_id="toolu_1").verdict == "allow"
    second = time.monotonic()
    assert _pre(hooks, str(tmp_path / "t.jsonl"), HARMLESS, call_id="toolu_2").verdict == "allow"
    third = time.monotonic()
    assert second - first >= 3.0 and third - second < 2.0
    assert "could not be started less than a minute ago" in _log(env)


@pytest.mark.parametrize("agent", ["claude-code", "gemini-cli"])
@pytest.mark.parametrize("case", ["hangs", "gone"])
def test_a_checker_that_hangs_or_is_gone_denies_with_on_error_closed(env, tmp_path, case, agent):
    hooks = _hooks(env, agent, policy_text=_closed(DEFAULT_POLICY))
    hooks.env, cleanup = _checker_cases(env, tmp_path, case)
    try:
        call = _pre(hooks, str(tmp_path / "t.jsonl"), HARMLESS, call_id="toolu_lost")
    finally:
        cleanup()
    assert (call.code, call.verdict) == (0, "deny")
    assert "fails closed" in call.reason


def test_the_client_and_the_checker_agree_on_what_they_share():
    assert client.DECISION_ATTRIBUTES == (sc.COT_GUARD_DECISION, sc.COT_GUARD_ACTION, sc.COT_GUARD_RULE,
                                          sc.COT_GUARD_ERROR, sc.COT_GUARD_FINDING_COUNT, sc.COT_GUARD_DURATION_MS)
    from otel_cot.coding_agents.state import default_state_path

    env = {"XDG_STATE_HOME": "/x/state", "HOME": "/home/u"}
    assert os.path.dirname(default_state_path(env)) == client.state_dir(env)
    assert client.state_dir({}) == os.path.join(os.path.expanduser("~"), ".local", "state", "otel-cot")
    from otel_cot.coding_agents import guard_decisions

    for session in ("6f1c2a9e-4b7d-4e21-9a3c-5d8e7f9a0b1c", "../../etc/passwd", "a/b", ".hidden", "x" * 200, ""):
        assert client.decisions_file("/d", "codex", session) == guard_decisions.decisions_file("/d", "codex", session)
    assert client.safe_name("6f1c2a9e-4b7d") == "6f1c2a9e-4b7d"
    assert client.safe_name("../../etc/passwd") != "../../etc/passwd" and "/" not in client.safe_name("a/b")


def test_the_client_imports_nothing_heavy_on_its_way_to_an_answer(tmp_path):
    """What the user waits for before every tool call: the client run as installed (``-I -S``) against a checker
    that answers imports no json, re, socket module, nor anything of otel_cot."""
    path = str(tmp_path / "c.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(1)
    answer = b'{"hookSpecificOutput": {"permissionDecision": "deny"}}'

    def serve():
        conn, _ = server.accept()
        data = b""
        while not data.endswith(b"}"):
            data += conn.recv(65536)
        conn.sendall(b"OTC1\t0\t%d\t0\n" % len(answer) + answer)
        conn.close()

    threading.Thread(target=serve, daemon=True).start()
    proc = subprocess.run([os.sys.executable, "-I", "-S", "-X", "importtime", client.__file__, "claude_code",
                           "PreToolUse", "--policy", "/nonexistent"], input=b'{"session_id": "s"}',
                          env={"OTEL_COT_HOOKS_SOCKET": path, "PATH": os.environ.get("PATH", "")},
                          capture_output=True, timeout=60)
    server.close()
    assert (proc.returncode, proc.stdout) == (0, answer)
    imported = [line.split("|")[-1].strip() for line in proc.stderr.decode().splitlines()
                if line.startswith("import time:") and "|" in line][1:]
    assert imported and not [m for m in imported if m.split(".")[0] in ("json", "re", "socket", "otel_cot",
                                                                           "subprocess", "selectors")], imported


def test_an_idle_checker_exits_and_the_next_call_starts_another(tmp_path):
    from tests.support.hook_replay import checker_pid

    for env in hook_env(str(tmp_path / "home"), OTEL_COT_HOOKS_IDLE_S="1"):
        hooks = _hooks(env)
        transcript = str(tmp_path / "t.jsonl")
        assert _pre(hooks, transcript, FORCE_PUSH, call_id="toolu_a").verdict == "deny"
        first = checker_pid(env)
        assert first is not None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and os.path.exists(env["OTEL_COT_HOOKS_SOCKET"]):
            time.sleep(0.1)
        assert not os.path.exists(env["OTEL_COT_HOOKS_SOCKET"])  # gone after a second without a call
        assert _pre(hooks, transcript, FORCE_PUSH, call_id="toolu_b").verdict == "deny"
        second = checker_pid(env)
        assert second is not None and second != first


def test_a_checker_answering_a_long_call_is_not_idle(tmp_path):
    """A call that takes longer than the idle time (the first check of a fresh install builds the detectors'
    compiled matcher) must not make the checker leave under it: idle counts from the end of the last call."""
    from otel_cot.hooks.server import CheckerServer

    release = threading.Event()

    class SlowService:
        def handle(self, agent, event, policy, payload):
            release.wait(30)
            return 0, b"ok", b""

    path = str(tmp_path / "checker.sock")
    server = CheckerServer(path, SlowService(), idle_s=0.2)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    answers = []

    def call():
        sock = client.open_connection(path, 5.0)
        try:
            answers.append(client.ask_checker(sock, "claude_code", "PreToolUse", "", b"{}", 30.0))
        finally:
            sock.close()

    caller = threading.Thread(target=call)
    caller.start()
    try:
        deadline = time.monotonic() + 10
        while server.requests == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.5)  # the call has been running longer than idle_s
        assert server.idle_for() == 0.0
    finally:
        release.set()
        caller.join(30)
        server.shutdown()
        server.server_close()
    assert answers == [(0, b"ok", b"")]
    assert 0.0 < server.idle_for() < 5.0  # idle again from the call's end


def test_hooks_fired_at_once_start_one_checker_and_all_get_answers(env, tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    from tests.support.hook_replay import checker_pid

    hooks = _hooks(env)
    transcript = str(tmp_path / "t.jsonl")
    with ThreadPoolExecutor(6) as pool:
        calls = list(pool.map(lambda i: _pre(hooks, transcript, FORCE_PUSH, call_id=f"toolu_{i}"), range(6)))
    assert [c.verdict for c in calls] == ["deny"] * 6
    assert checker_pid(env) is not None
    log = _log(env)
    assert log.count("listening on") == 1  # one checker served them all (others found it running and left)


# --- where the checker runs, and who can reach it ---------------------------------------------------------------------
def test_the_checker_does_not_import_modules_from_the_agents_working_directory(env, tmp_path):
    """The checker is started from the hook, in the agent's working directory (the user's repository). ``python -m``
    puts that directory first on sys.path: a repository with a ``typing.py`` would run its code in the checker, or
    keep the checker from starting so that every call is let through."""
    repo = tmp_path / "repo"
    repo.mkdir()
    marker = tmp_path / "imported"
    (repo / "typing.py").write_text(f"open({str(marker)!r}, 'w').close()\nraise SystemExit(3)\n")
    hooks = _hooks(env)
    hooks.cwd = str(repo)
    hooks.env = dict(env, OTEL_COT_HOOKS_START_MS="5000")
    call = _pre(hooks, str(tmp_path / "t.jsonl"), FORCE_PUSH, call_id="toolu_repo")
    assert not marker.exists()
    assert call.verdict == "deny" and "remote history" in call.reason


class RecordingChecker:
    """A socket that answers every request with an empty allow, and keeps what it was sent."""

    def __init__(self, path: str) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(8)
        self.received = b""
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            conn.settimeout(2)
            try:
                while True:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    self.received += chunk
            except OSError:
                pass
            conn.sendall(b"OTC1\t0\t0\t0\n")
            conn.close()

    def close(self) -> None:
        self.sock.close()


@pytest.mark.parametrize("owner", ["world-writable", "another user"])
def test_a_socket_in_a_directory_others_control_is_not_used(env, tmp_path, owner):
    """``/tmp/otel-cot-<uid>`` is a name anyone can take first (on macOS there is no XDG_RUNTIME_DIR). A checker
    someone else put there would read every tool call and answer for the guard: the hook does not talk to it."""
    if owner == "another user" and os.getuid() != 0:
        pytest.skip("needs root to give a directory to another user")
    directory = tempfile.mkdtemp(prefix="oc-", dir="/tmp")
    try:
        path = os.path.join(directory, "hooks.sock")
        fake = RecordingChecker(path)
        if owner == "world-writable":
            os.chmod(directory, 0o777)
        else:
            os.chown(directory, 65534, 65534)
        hooks = _hooks(env, policy_text=_closed(DEFAULT_POLICY))
        hooks.env = dict(env, OTEL_COT_HOOKS_SOCKET=path, OTEL_COT_HOOKS_START_MS="500")
        call = _pre(hooks, str(tmp_path / "t.jsonl"), FORCE_PUSH, call_id="toolu_fake")
        fake.close()
        assert fake.received == b""
        assert call.verdict == "deny" and "fails closed" in call.reason
        expected = "can be written by other users" if owner == "world-writable" else "belongs to another user"
        assert expected in call.reason and expected in _log(env)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def test_a_state_directory_that_cannot_be_written_does_not_stop_the_checker(env, tmp_path):
    """No hooks log and no decision files can be written (a read-only home, a sandbox): the calls are still
    judged."""
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    hooks = _hooks(env)
    hooks.env = dict(env, XDG_STATE_HOME=str(blocker / "state"), OTEL_COT_HOOKS_START_MS="5000")
    call = _pre(hooks, str(tmp_path / "t.jsonl"), FORCE_PUSH, call_id="toolu_ro")
    assert call.verdict == "deny" and "remote history" in call.reason
    assert _pre(hooks, str(tmp_path / "t.jsonl"), HARMLESS, call_id="toolu_ro2").verdict == "allow"


def test_the_hooks_log_and_the_decisions_are_readable_by_the_user_only(env, tmp_path):
    """They name the commands the agent ran and the guard's evidence."""
    hooks = _hooks(env)
    assert _pre(hooks, str(tmp_path / "t.jsonl"), FORCE_PUSH, call_id="toolu_private").verdict == "deny"
    _decision(env, "toolu_private")
    decisions = GuardDecisions(client.state_dir(env)).path("claude_code", "sess-1")
    for path in (client.log_path(env), decisions):
        assert os.stat(path).st_mode & 0o077 == 0, path


def test_a_session_being_read_does_not_hold_up_the_calls_of_another(tmp_path, monkeypatch):
    """Two agents at once: the first call of a session with a long transcript reads for seconds; a call of another
    session is answered meanwhile, not after it (the hook would wait, or time out and be let through)."""
    from otel_cot.hooks.history import SessionHistory
    from otel_cot.hooks.service import HookService

    policy = tmp_path / "policy.yaml"
    policy.write_text(DEFAULT_POLICY)
    slow, quick = tmp_path / "slow.jsonl", tmp_path / "quick.jsonl"
    slow.write_text("")
    quick.write_text("")
    entered, release = threading.Event(), threading.Event()
    refresh = SessionHistory.refresh

    def slow_refresh(self, guard):
        if self.path == str(slow):
            entered.set()
            release.wait(30)
        return refresh(self, guard)

    monkeypatch.setattr(SessionHistory, "refresh", slow_refresh)
    service = HookService(state_dir=str(tmp_path / "state"), export=False)
    answers = {}

    def call(name, transcript):
        payload = {"session_id": name, "transcript_path": str(transcript), "hook_event_name": "PreToolUse",
                   "tool_name": "Bash", "tool_input": FORCE_PUSH, "tool_use_id": f"toolu_{name}"}
        answers[name] = service.handle("claude_code", "PreToolUse", str(policy), json.dumps(payload).encode())

    first = threading.Thread(target=call, args=("slow", slow))
    first.start()
    assert entered.wait(10)
    second = threading.Thread(target=call, args=("quick", quick))
    second.start()
    second.join(10)
    answered_meanwhile = not second.is_alive()
    release.set()
    first.join(30)
    second.join(30)
    assert answered_meanwhile
    assert all(b'"permissionDecision": "deny"' in answers[name][1] for name in ("slow", "quick"))


def test_a_transcript_that_is_not_a_regular_file_does_not_hang_the_checker(env, tmp_path):
    """A FIFO as the transcript: opening it would block the checker (and every session behind it)."""
    fifo = tmp_path / "t.jsonl"
    os.mkfifo(fifo)
    hooks = _hooks(env)
    call = _pre(hooks, str(fifo), FORCE_PUSH, call_id="toolu_fifo")
    assert call.verdict == "deny" and "remote history" in call.reason
    assert "not a regular file" in _decision(env, "toolu_fifo")[sc.COT_GUARD_ERROR]


def test_a_checker_that_leaves_as_the_call_comes_is_asked_again(env, tmp_path):
    """A checker exiting after its idle time drops the calls still waiting to be accepted: the hook asks again
    (a new checker) instead of letting the call through unjudged."""
    path = os.path.join(os.path.dirname(env["OTEL_COT_HOOKS_SOCKET"]), "leaving.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(8)
    connections = []

    def serve():
        for n in range(2):
            conn, _ = server.accept()
            connections.append(n)
            if n == 0:
                conn.close()  # leaving: no answer
                continue
            _answer_judged(conn)

    threading.Thread(target=serve, daemon=True).start()
    hooks = _hooks(env)
    hooks.env = dict(env, OTEL_COT_HOOKS_SOCKET=path)
    call = _pre(hooks, str(tmp_path / "t.jsonl"), FORCE_PUSH, call_id="toolu_again")
    server.close()
    assert connections == [0, 1]
    assert (call.verdict, call.reason) == ("deny", "judged")


def test_the_policy_file_is_read_again_when_it_changes(tmp_path):
    service, policy_path, transcript = _in_process(tmp_path)
    policy = tmp_path / "policy.yaml"

    def verdict(n):
        payload = {"session_id": "s", "transcript_path": str(transcript), "hook_event_name": "PreToolUse",
                   "tool_name": "Bash", "tool_input": FORCE_PUSH, "tool_use_id": f"toolu_{n}"}
        out = service.handle("claude_code", "PreToolUse", str(policy), json.dumps(payload).encode())[1]
        return json.loads(out)["hookSpecificOutput"]["permissionDecision"] if out else "allow"

    assert verdict(1) == "deny"
    policy.write_text(DEFAULT_POLICY.replace("action: block", "action: log  "))  # the same size
    assert verdict(2) == "allow"
    policy.write_text(_closed(BROKEN["yaml"]))
    assert verdict(3) == "deny"


@pytest.mark.parametrize("agent", ["claude_code", "gemini_cli"])
def test_half_a_surrogate_pair_in_a_tool_call_does_not_let_it_through(tmp_path, agent):
    """A lone ``\\ud800`` in the arguments made the checker fail on Gemini CLI's call (no call id: one is made up
    from a hash of the arguments) and the force push was allowed by on_error."""
    service, policy, transcript = _in_process(tmp_path)
    event, tool = ("BeforeTool", "run_shell_command") if agent == "gemini_cli" else ("PreToolUse", "Bash")
    payload = {"session_id": "s", "transcript_path": str(transcript), "hook_event_name": event, "tool_name": tool,
               "tool_input": {"command": "git push --force origin main # \ud800"}}
    if agent == "claude_code":
        payload["tool_use_id"] = "toolu_1"
    out = json.loads(service.handle(agent, event, policy, json.dumps(payload).encode())[1])
    decision = out.get("decision") or out["hookSpecificOutput"]["permissionDecision"]
    assert decision == "deny"


def test_what_the_checker_keeps_per_call_is_small_whatever_the_arguments(tmp_path):
    """Up to 512 calls are remembered per session (to match Gemini CLI's calls, which have no id): by a digest of
    their arguments, not a copy of a Write's whole content."""
    from otel_cot.hooks.history import SessionHistory

    service, policy, transcript = _in_process(tmp_path)
    histories = []
    real_init = SessionHistory.__init__

    def keep(self, *args, **kwargs):
        real_init(self, *args, **kwargs)
        histories.append(self)

    SessionHistory.__init__ = keep
    try:
        for n in range(20):
            payload = {"session_id": "s", "transcript_path": str(transcript), "hook_event_name": "BeforeTool",
                       "tool_name": "write_file", "tool_input": {"file_path": f"f{n}.txt", "content": "x" * 100_000}}
            service.handle("gemini_cli", "BeforeTool", str(policy), json.dumps(payload).encode())
    finally:
        SessionHistory.__init__ = real_init
    (history,) = histories
    kept = list(history._checked_calls) + list(history._made_up.values())
    assert len(kept) == 40 and max(map(len, kept)) < 200


def test_a_checker_with_a_full_queue_of_connections_is_waited_for(env, tmp_path):
    """A unix socket whose queue of connections is full refuses at once (EAGAIN), it does not make the caller
    wait: the hook took that for a missing checker and let the call through. Claude Code runs the hooks of a
    batch of parallel tool calls at once."""
    path = os.path.join(os.path.dirname(env["OTEL_COT_HOOKS_SOCKET"]), "busy.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(0)
    queued = []
    try:
        while True:  # fill the queue
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.setblocking(False)
            sock.connect(path)
            queued.append(sock)
    except BlockingIOError:
        sock.close()

    def serve():
        time.sleep(0.3)
        for sock in queued:
            conn, _ = server.accept()
            conn.close()
            sock.close()
        _answer_judged(server.accept()[0])

    threading.Thread(target=serve, daemon=True).start()
    hooks = _hooks(env)
    hooks.env = dict(env, OTEL_COT_HOOKS_SOCKET=path)
    call = _pre(hooks, str(tmp_path / "t.jsonl"), FORCE_PUSH, call_id="toolu_busy")
    server.close()
    assert queued and (call.verdict, call.reason) == ("deny", "judged")


def test_a_long_history_does_not_spend_the_budget_of_the_call_being_judged(tmp_path):
    """Long tool results in the transcript (file reads, test output) take the detectors time to judge. Judged
    inside the check, they spent its 50 ms: the guard timed out before the pending call's own detectors, and
    `git push --force` was allowed by on_error, at every call until the backlog was worked off."""
    from otel_cot.hooks.service import HookService
    from tests.support.coding_sessions import long_claude_session

    policy = tmp_path / "policy.yaml"
    policy.write_text(DEFAULT_POLICY)
    transcript = tmp_path / "t.jsonl"
    session = "0d0e0f10-1111-4222-8333-444455556666"
    with open(transcript, "wb") as fh:
        for line in long_claude_session(150, session):
            record = json.loads(line)
            if record["type"] == "user" and isinstance(record["message"]["content"], list):
                record["message"]["content"][0]["content"] = "ok " * 8000  # a long tool result
            fh.write(json.dumps(record).encode() + b"\n")
    service = HookService(state_dir=str(tmp_path / "state"), export=False)
    for n in range(2):
        payload = {"session_id": session, "transcript_path": str(transcript), "hook_event_name": "PreToolUse",
                   "tool_name": "Bash", "tool_input": FORCE_PUSH, "tool_use_id": f"toolu_push{n}"}
        out = service.handle("claude_code", "PreToolUse", str(policy), json.dumps(payload).encode())[1]
        assert b'"permissionDecision": "deny"' in out, out


def test_hook_input_larger_than_the_checker_takes_is_decided_by_on_error_with_that_reason(env):
    """A Write of a file larger than 64 MiB: the checker refuses the request; the hook says why (it reported a
    checker that closed the connection, after sending the whole input twice)."""
    hooks = _hooks(env, policy_text=_closed(DEFAULT_POLICY))
    payload = json.dumps({"session_id": "sess-1", "transcript_path": "", "hook_event_name": "PreToolUse",
                          "tool_name": "Write", "tool_use_id": "toolu_huge",
                          "tool_input": {"file_path": "big.txt", "content": "x" * (client.MAX_REQUEST + 1)}})
    proc = _pre(hooks, "", raw=payload.encode())
    answer = json.loads(proc.stdout)["hookSpecificOutput"]
    assert answer["permissionDecision"] == "deny" and "larger than the checker takes" in answer[
        "permissionDecisionReason"]
