"""The command a coding agent runs as its hook: hand the hook's input to the local checker, print its answer.

    python -I -S .../otel_cot/hooks/client.py claude_code PreToolUse --policy ~/.config/otel-cot/hooks-policy.yaml

A PreToolUse hook runs before every tool call, so this file is what the user waits for: it is run with ``-I -S``
(no site-packages, no environment-driven imports) and imports nothing but ``_socket``, ``os``, ``sys`` and
``time`` on the way that succeeds. Interpreter start-up plus importing the guard would cost far more (see
docs/performance.md, "Coding-agent hooks"); the judging happens in the checker (:mod:`otel_cot.hooks.server`), a
per-user process listening on a unix socket that this client starts when it is not running.

Wire format (both directions, bytes): a request is ``OTC1 \\t agent \\t event \\t policy \\t length \\n`` followed by
the hook's stdin; the answer is ``OTC1 \\t exit code \\t stdout length \\t stderr length \\n`` followed by the
bytes the agent should see on stdout and stderr.

Failure is never the agent's problem: when the checker cannot be reached, does not answer within
``OTEL_COT_HOOKS_TIMEOUT_MS`` (default 5000), or answers garbage, the call is allowed (``on_error: open``,
the default) or denied (``on_error: closed`` in the policy file), the error is appended to the hooks log
(``$XDG_STATE_HOME/otel-cot/hooks.log``) and recorded as the call's guard decision, so that the exported
tool span carries ``cot.guard.error``. The process always exits as the agent's protocol expects (0 with the
answer on stdout); it never exits 2 nor crashes with a traceback.

This module is also imported by the checker and the installer for what both sides must agree on: the socket
and state paths, the agents' answer formats and the ``on_error`` salvage of a broken policy file.
"""

import os
import sys
import time

import _socket

MAGIC = b"OTC1"
CLAUDE_CODE, CODEX, GEMINI_CLI = "claude_code", "codex", "gemini_cli"
# The event before a tool call, per agent: the only one whose answer can stop anything.
PRE_TOOL_EVENTS = {CLAUDE_CODE: "PreToolUse", CODEX: "PreToolUse", GEMINI_CLI: "BeforeTool"}
POST_TOOL_EVENTS = {CLAUDE_CODE: "PostToolUse", CODEX: "PostToolUse", GEMINI_CLI: "AfterTool"}
ALLOW, DENY, ASK, FEEDBACK = "allow", "deny", "ask", "feedback"
DEFAULT_TIMEOUT_MS = 5000
DEFAULT_START_MS = 10000
LOG_LIMIT = 1 << 20  # the hooks log is moved to hooks.log.1 beyond this
MAX_REQUEST = 64 << 20  # the largest hook input the checker takes (a Write of a huge file is larger)

# Attribute names of a guard decision (otel_cot.semconv), for the decision this client records on failure.
DECISION_ATTRIBUTES = ("cot.guard.decision", "cot.guard.action", "cot.guard.rule", "cot.guard.error",
                       "cot.guard.finding_count", "cot.guard.duration_ms")


# --- paths both sides agree on --------------------------------------------------------------------------
def state_dir(env=None):
    """``$XDG_STATE_HOME/otel-cot`` (else ``~/.local/state/otel-cot``): the directory ``otel-cot watch`` keeps its
    state in, shared with the hooks."""
    env = os.environ if env is None else env
    base = env.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return os.path.join(base, "otel-cot")


def socket_path(env=None):
    """The checker's socket: ``OTEL_COT_HOOKS_SOCKET``, else ``$XDG_RUNTIME_DIR/otel-cot/hooks.sock``, else
    ``/tmp/otel-cot-<uid>/hooks.sock`` (a directory only the user can enter)."""
    env = os.environ if env is None else env
    if env.get("OTEL_COT_HOOKS_SOCKET"):
        return env["OTEL_COT_HOOKS_SOCKET"]
    if env.get("XDG_RUNTIME_DIR"):
        return os.path.join(env["XDG_RUNTIME_DIR"], "otel-cot", "hooks.sock")
    return os.path.join("/tmp", "otel-cot-%d" % os.getuid(), "hooks.sock")


def log_path(env=None):
    return os.path.join(state_dir(env), "hooks.log")


def socket_dir_problem(directory):
    """Why a checker socket in ``directory`` cannot be trusted, or None. Another user who owns the directory, or
    can write to it, could put a socket of their own there: it would read every tool call and answer for the
    guard. So the directory (and, when it is a symbolic link, the link) must be the user's, and writable by no
    one else. None when it does not exist yet (the checker creates it)."""
    uid = os.getuid()
    try:
        link, st = os.lstat(directory), os.stat(directory)
    except FileNotFoundError:
        return None
    except OSError as exc:
        return "%s cannot be checked: %s" % (directory, exc)
    if link.st_uid != uid or st.st_uid != uid:
        return "%s belongs to another user" % directory
    if st.st_mode & 0o022:
        return "%s can be written by other users" % directory
    return None


def safe_name(value):
    """``value`` as a file name (as ``otel_cot.coding_agents.guard_decisions.safe_name``, which this client cannot
    import): itself when it is plain (session ids are UUIDs), else a hash of it."""
    if value and len(value) <= 128 and all(c.isalnum() or c in "._-" for c in value) and value[0] != ".":
        return value
    import hashlib

    return hashlib.sha256(value.encode("utf-8", "replace")).hexdigest()[:32]


def decisions_file(directory, agent, session):
    """Where the guard decisions of one session are appended (read back when its tool spans are exported)."""
    return os.path.join(directory, "guard-decisions", agent, safe_name(session) + ".jsonl")


# --- the agents' answers -------------------------------------------------------------------------------------
def _json(value):
    import json

    return json.dumps(value, ensure_ascii=False).encode("utf-8")


def render(agent, event, action, reason=""):
    """(exit code, stdout) of a hook answer in ``agent``'s documented format.

    Before a tool call: ``allow`` says nothing (the agent's own permission rules still apply), ``deny`` refuses
    the call with ``reason`` for the model, ``ask`` hands it to the agent's permission prompt. Codex cannot ask
    from a hook: the call runs and ``reason`` is shown as a warning. After a tool call, ``feedback`` tells the
    model ``reason`` (Claude Code: ``decision: block``, which prompts Claude with it; Codex and Gemini CLI:
    context added to the tool's result). Other events are acknowledged.
    """
    quiet = b"{}" if agent == GEMINI_CLI else b""
    if action == FEEDBACK and event == POST_TOOL_EVENTS.get(agent):
        if agent == CLAUDE_CODE:
            return 0, _json({"decision": "block", "reason": reason})
        return 0, _json({"hookSpecificOutput": {"hookEventName": event, "additionalContext": reason}})
    if event != PRE_TOOL_EVENTS.get(agent) or action == ALLOW:
        return 0, quiet
    reason = reason or "blocked by the otel-cot guard"
    if agent == GEMINI_CLI:
        if action == DENY:
            return 0, _json({"decision": "deny", "reason": reason})
        return 0, _json({"decision": "ask", "reason": reason, "systemMessage": reason})
    if agent == CODEX and action == ASK:
        return 0, _json({"systemMessage": "otel-cot guard (Codex hooks cannot ask, so the call runs): " + reason})
    return 0, _json({"hookSpecificOutput": {"hookEventName": event, "permissionDecision": action,
                                            "permissionDecisionReason": reason}})


def policy_fails_closed(path):
    """Whether the policy file says ``on_error: closed``, read without parsing it (it may be what is broken)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            text = fh.read(1 << 20)
    except (OSError, TypeError):
        return False
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line.startswith(("on_error:", "on_error :", '"on_error":')):
            return line.split(":", 1)[1].strip().strip("'\",") == "closed"
    return False


# --- failure: log, record, answer ------------------------------------------------------------------------------
def log_error(message, env=None):
    """Append one line to the hooks log (kept under ~1 MiB: the previous one is moved to ``hooks.log.1``)."""
    try:
        path = log_path(env)
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        try:
            if os.stat(path).st_size > LOG_LIMIT:
                os.replace(path, path + ".1")
        except OSError:
            pass
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
        with open(os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600), "a", encoding="utf-8") as fh:
            fh.write("%s pid=%d %s\n" % (stamp, os.getpid(), message.replace("\n", " ")))
    except Exception:
        pass


def record_failure(agent, payload, closed, error, elapsed_ms, env=None):
    """The failure as the call's guard decision, for the tool span (needs the session and call ids)."""
    try:
        import json

        data = json.loads(payload)
        session, call_id = data.get("session_id"), data.get("tool_use_id")
        if not isinstance(session, str) or not isinstance(call_id, str) or not session or not call_id:
            return
        names = DECISION_ATTRIBUTES
        attributes = {names[0]: "blocked" if closed else "allowed", names[1]: "block" if closed else "log",
                      names[2]: "on_error:closed" if closed else "on_error:open", names[3]: error[:512],
                      names[4]: 0, names[5]: round(elapsed_ms, 4)}
        path = decisions_file(state_dir(env), agent, session)
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        with open(os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600), "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"call_id": call_id, "tool": data.get("tool_name"), "attributes": attributes})
                     + "\n")
    except Exception:
        pass


def fail(agent, event, policy, payload, error, started, env=None):
    """The answer when the checker could not decide: on_error of the policy file, the error logged."""
    closed = policy_fails_closed(policy)
    log_error("%s %s: %s; %s" % (agent, event, error, "denied (on_error: closed)" if closed else "allowed"), env)
    if event == PRE_TOOL_EVENTS.get(agent):
        record_failure(agent, payload, closed, error, (time.monotonic() - started) * 1000.0, env)
    if closed:
        reason = "the otel-cot guard could not judge this call (%s) and fails closed" % error
        return render(agent, event, DENY, reason)
    return render(agent, event, ALLOW)


# --- talking to the checker ----------------------------------------------------------------------------------------
class CheckerError(Exception):
    pass


class CheckerGone(CheckerError):
    """The checker closed the connection without an answer: it was leaving (idle) as the call came, or died."""


RETRY_WITHIN_S = 1.0  # a call whose checker went away this soon is asked once more (a new checker starts)


def open_connection(path, timeout):
    """A connection to the socket at ``path``. A checker whose queue of connections is full (many hooks at once)
    refuses at once with EAGAIN rather than making us wait: that is tried again until ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect(path)
            return sock
        except BlockingIOError:
            sock.close()
            if time.monotonic() > deadline:
                raise
            time.sleep(0.005)
        except BaseException:
            sock.close()
            raise


def start_checker(env=None):
    """Start the checker, detached (its own session, no inherited descriptors: the agent reads our stdout until
    it closes, so the checker must not hold it)."""
    env = os.environ if env is None else env
    python = env.get("OTEL_COT_HOOKS_PYTHON") or sys.executable
    log = log_path(env)
    try:
        os.makedirs(os.path.dirname(log), mode=0o700, exist_ok=True)
    except OSError:
        pass  # the checker judges without a log (its output is dropped below)
    pid = os.fork()
    if pid == 0:
        try:
            os.setsid()
            if os.fork():
                os._exit(0)
            # Not the agent's working directory: ``python -m`` puts it first on sys.path, so a repository's
            # own ``typing.py`` or ``json.py`` would be imported by the checker.
            os.chdir("/")
            null = os.open(os.devnull, os.O_RDWR)
            try:
                out = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            except OSError:
                out = null
            os.dup2(null, 0)
            os.dup2(out, 1)
            os.dup2(out, 2)
            os.closerange(3, 1024)
            os.execve(python, [python, "-m", "otel_cot.hooks.server"], dict(env))
        finally:
            os._exit(127)
    os.waitpid(pid, 0)


def _check_socket_dir(path):
    problem = socket_dir_problem(os.path.dirname(path) or ".")
    if problem:
        raise CheckerError("not talking to a checker at %s: %s (set OTEL_COT_HOOKS_SOCKET to a path in a directory "
                           "only you can write to)" % (path, problem))


START_RETRY_S = 60.0  # after a failed start, calls within this long do not wait for another one


def connect(env=None):
    """A connection to the checker, started first if it is not running. When a start failed in the last minute
    (``<socket>.failed``), no new one is tried: every tool call would otherwise wait for it."""
    env = os.environ if env is None else env
    path = socket_path(env)
    _check_socket_dir(path)
    try:
        return open_connection(path, 1.0)
    except (FileNotFoundError, ConnectionRefusedError):
        pass
    failed = path + ".failed"
    try:
        if time.time() - os.stat(failed).st_mtime < START_RETRY_S:
            raise CheckerError("the checker could not be started less than a minute ago (see %s)" % log_path(env))
    except FileNotFoundError:
        pass
    start_checker(env)
    deadline = time.monotonic() + int(env.get("OTEL_COT_HOOKS_START_MS") or DEFAULT_START_MS) / 1000.0
    while True:
        _check_socket_dir(path)  # the directory may have been created meanwhile, by someone else
        try:
            return open_connection(path, 1.0)
        except (FileNotFoundError, ConnectionRefusedError):
            if time.monotonic() > deadline:
                try:
                    with open(failed, "w"):
                        pass
                except OSError:
                    pass
                raise CheckerError("the checker did not start within %s ms (see %s)"
                                   % (env.get("OTEL_COT_HOOKS_START_MS") or DEFAULT_START_MS, log_path(env)))
            time.sleep(0.02)


def ask_checker(sock, agent, event, policy, payload, timeout):
    """Send one request; (exit code, stdout, stderr) of the answer."""
    if len(payload) > MAX_REQUEST:
        raise CheckerError("the hook input (%d bytes) is larger than the checker takes (%d)"
                           % (len(payload), MAX_REQUEST))
    deadline = time.monotonic() + timeout
    head = b"\t".join((MAGIC, agent.encode(), event.encode(), policy.encode("utf-8", "surrogateescape"),
                       str(len(payload)).encode())) + b"\n"
    sock.settimeout(max(0.001, deadline - time.monotonic()))
    try:
        sock.sendall(head + payload)
    except (BrokenPipeError, ConnectionResetError) as exc:
        raise CheckerGone("the checker closed the connection (%s)" % exc) from None
    try:
        sock.shutdown(_socket.SHUT_WR)
    except OSError:
        pass
    data = b""
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise CheckerError("no answer from the checker within %d ms" % (timeout * 1000))
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(65536)
        except _socket.timeout:
            raise CheckerError("no answer from the checker within %d ms" % (timeout * 1000)) from None
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            break
        data += chunk
    if not data:
        raise CheckerGone("the checker closed the connection without an answer")
    line, _, body = data.partition(b"\n")
    fields = line.split(b"\t")
    if len(fields) != 4 or fields[0] != MAGIC:
        raise CheckerError("the checker answered garbage (%d bytes)" % len(data))
    code, out_len, err_len = int(fields[1]), int(fields[2]), int(fields[3])
    if len(body) != out_len + err_len:
        raise CheckerError("the checker's answer was cut (%d of %d bytes)" % (len(body), out_len + err_len))
    return code, body[:out_len], body[out_len:]


def _arguments(argv):
    if len(argv) < 2:
        raise SystemExit("usage: client.py AGENT EVENT [--policy FILE]")
    agent, event, policy = argv[0], argv[1], ""
    rest = argv[2:]
    if "--policy" in rest and rest.index("--policy") + 1 < len(rest):
        policy = rest[rest.index("--policy") + 1]
    return agent, event, policy


def main(argv=None):
    started = time.monotonic()
    agent, event, policy = _arguments(sys.argv[1:] if argv is None else argv)
    payload = b""
    try:
        payload = sys.stdin.buffer.read()
        timeout = int(os.environ.get("OTEL_COT_HOOKS_TIMEOUT_MS") or DEFAULT_TIMEOUT_MS) / 1000.0
        sock = connect()
        try:
            try:
                code, out, err = ask_checker(sock, agent, event, policy, payload, timeout)
            except CheckerGone:
                if time.monotonic() - started > RETRY_WITHIN_S:
                    raise
                sock.close()
                sock = connect()
                code, out, err = ask_checker(sock, agent, event, policy, payload, timeout)
        finally:
            sock.close()
    except Exception as exc:
        code, out = fail(agent, event, policy, payload, "%s: %s" % (type(exc).__name__, exc), started)
        err = b""
    try:
        sys.stdout.buffer.write(out)
        sys.stdout.buffer.flush()
        if err:
            sys.stderr.buffer.write(err)
            sys.stderr.buffer.flush()
    except OSError:
        pass
    return code


if __name__ == "__main__":
    sys.exit(main())
