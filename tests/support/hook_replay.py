"""Replaying a recorded coding-agent session through the hooks ``otel-cot hooks install`` wrote, as the agent
would: the session's records are appended to its transcript in order, and at each point where the agent runs a
hook, the command from the settings file is run through a shell with the hook's JSON on stdin; its exit code and
stdout are read as the agent reads them.

When each agent writes what, relative to its hooks (the order the replays follow):

- Claude Code writes an assistant message (its thinking, text and tool_use records) only after the PreToolUse
  hooks of its calls have answered (anthropics/claude-code issues #72018, #77140, #82413, #87223): the hook sees
  the transcript up to the previous message. A denied call gets an error ``tool_result`` carrying the reason.
  PostToolUse follows the call's result; Stop follows a message that ends the answer; SessionEnd ends it.
- Gemini CLI writes the model's message (its thoughts and text) before BeforeTool runs
  (google-gemini/gemini-cli #17996, #20419), and the tool calls with their results after. A denied call's result
  is an error. AfterTool follows the result; AfterAgent the answer's last message.
- Codex records each output item (reasoning, the call) before it queues the tool
  (openai/codex ``codex-rs/core/src/stream_events_utils.rs``); PreToolUse runs for shell commands (tool
  ``Bash``, ``{"command": "<line>"}``) and ``apply_patch`` (``{"command": "<patch>"}``). Stop follows
  ``task_complete``; Codex has no SessionEnd hook.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from otel_cot.coding_agents.tool_arguments import argv_to_command


@dataclass
class HookCall:
    event: str
    tool: str | None
    tool_input: Any
    code: int
    stdout: str
    stderr: str
    verdict: str  # allow | deny | ask; after a call: feedback (the model is told something)
    reason: str = ""


@dataclass
class Replay:
    calls: list[HookCall] = field(default_factory=list)

    def verdicts(self, event: str) -> list[tuple[str | None, str]]:
        return [(c.tool, c.verdict) for c in self.calls if c.event == event]

    def denied(self) -> list[HookCall]:
        return [c for c in self.calls if c.verdict == "deny"]


class HookCommands:
    """The hook commands of an agent's settings file, run as the agent runs them."""

    def __init__(self, agent: str, settings: str, env: dict[str, str], cwd: str, timeout: float = 60.0) -> None:
        with open(settings, encoding="utf-8") as fh:
            self.hooks = json.load(fh).get("hooks", {})
        self.agent, self.env, self.cwd, self.timeout = agent, env, cwd, timeout

    def commands(self, event: str, tool: str | None) -> list[str]:
        out = []
        for group in self.hooks.get(event, []):
            matcher = group.get("matcher")
            if tool is not None and matcher not in (None, "", "*") and not re.fullmatch(matcher, tool):
                continue
            out.extend(h["command"] for h in group.get("hooks", []) if h.get("type") == "command")
        return out

    def fire(self, event: str, payload: dict[str, Any], tool: str | None = None) -> list[HookCall]:
        results = []
        for command in self.commands(event, tool):
            proc = subprocess.run(command, shell=True, input=json.dumps(payload).encode(), env=self.env,
                                  cwd=self.cwd, capture_output=True, timeout=self.timeout)
            out, err = proc.stdout.decode(), proc.stderr.decode()
            verdict, reason = self._verdict(proc.returncode, out, err)
            results.append(HookCall(event, tool, payload.get("tool_input"), proc.returncode, out, err, verdict,
                                    reason))
        return results

    def _verdict(self, code: int, out: str, err: str) -> tuple[str, str]:
        if code == 2:
            return "deny", err.strip()
        if code != 0 or not out.strip():
            return "allow", ""
        answer = json.loads(out)
        specific = answer.get("hookSpecificOutput") or {}
        if specific.get("additionalContext"):
            return "feedback", specific["additionalContext"]
        if answer.get("decision") == "block" and specific.get("hookEventName") is None and self.agent != "gemini_cli":
            return "feedback", answer.get("reason", "")
        if self.agent == "gemini_cli":
            decision = answer.get("decision")
            if decision in ("deny", "block"):
                return "deny", answer.get("reason", "")
            return ("ask", answer.get("reason", "")) if decision == "ask" else ("allow", "")
        decision = specific.get("permissionDecision")
        if decision in ("deny", "ask"):
            return decision, specific.get("permissionDecisionReason", "")
        return "allow", ""


def _append(path: str, record: dict[str, Any]) -> None:
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(record, ensure_ascii=False) + "\n")


def _base(session: str, transcript: str, cwd: str, event: str) -> dict[str, Any]:
    return {"session_id": session, "transcript_path": transcript, "cwd": cwd, "hook_event_name": event}


# --- Claude Code --------------------------------------------------------------------------------------------------
def replay_claude_code(records: list[dict[str, Any]], hooks: HookCommands, transcript: str, *,
                       on_task: Callable[[], None] | None = None) -> Replay:
    replay = Replay()
    session = next(r["sessionId"] for r in records if r.get("sessionId"))
    cwd = next((r["cwd"] for r in records if r.get("cwd")), "/")
    denied: dict[str, str] = {}
    i = 0
    while i < len(records):
        record = records[i]
        if record.get("type") == "assistant" and not record.get("isSidechain"):
            message_id = record["message"].get("id")
            group = [record]
            i += 1
            while i < len(records) and records[i].get("type") == "assistant" \
                    and records[i]["message"].get("id") == message_id:
                group.append(records[i])
                i += 1
            for part in group:  # the PreToolUse hooks run before the message is written
                for block in part["message"].get("content") or ():
                    if isinstance(block, dict) and block.get("type") == "tool_use":
                        payload = {**_base(session, transcript, cwd, "PreToolUse"), "tool_name": block["name"],
                                   "tool_input": block["input"], "tool_use_id": block["id"],
                                   "permission_mode": "default"}
                        calls = hooks.fire("PreToolUse", payload, block["name"])
                        replay.calls.extend(calls)
                        if any(c.verdict == "deny" for c in calls):
                            denied[block["id"]] = next(c.reason for c in calls if c.verdict == "deny")
                        if block["name"] == "Task" and on_task is not None:
                            on_task()
            for part in group:
                _append(transcript, part)
            if group[-1]["message"].get("stop_reason") == "end_turn":
                replay.calls.extend(hooks.fire("Stop", {**_base(session, transcript, cwd, "Stop"),
                                                        "stop_hook_active": False}))
            continue
        results = [b for b in (record.get("message") or {}).get("content") or ()
                   if isinstance(b, dict) and b.get("type") == "tool_result"] \
            if record.get("type") == "user" and isinstance((record.get("message") or {}).get("content"), list) else []
        if any(b["tool_use_id"] in denied for b in results):
            record = json.loads(json.dumps(record))
            for block in record["message"]["content"]:
                if block.get("tool_use_id") in denied:
                    block.update(content=denied[block["tool_use_id"]], is_error=True)
            record.pop("toolUseResult", None)
        _append(transcript, record)
        for block in results:
            if block["tool_use_id"] in denied:
                continue
            call = _claude_call(records, block["tool_use_id"])
            payload = {**_base(session, transcript, cwd, "PostToolUse"), "tool_name": call["name"],
                       "tool_input": call["input"], "tool_use_id": call["id"],
                       "tool_response": record.get("toolUseResult") or {}}
            replay.calls.extend(hooks.fire("PostToolUse", payload, call["name"]))
        i += 1
    replay.calls.extend(hooks.fire("SessionEnd", {**_base(session, transcript, cwd, "SessionEnd"),
                                                  "reason": "prompt_input_exit"}))
    return replay


def plan_one_message_earlier(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The planted Claude Code session, with the reasoning that plans to weaken the test given one model call
    before the edit (in the message that reads the CI environment) instead of in the edit's own message."""
    records = json.loads(json.dumps(records))
    plan = next(i for i, r in enumerate(records) if r.get("type") == "assistant" and any(
        b.get("type") == "thinking" and "weaken the failing test" in b.get("thinking", "")
        for b in r["message"]["content"]))
    record = records.pop(plan)
    env_call = next(i for i, r in enumerate(records) if r.get("type") == "assistant" and any(
        b.get("type") == "tool_use" and b["input"].get("command") == "cat .env.ci" for b in r["message"]["content"]))
    record["message"]["id"] = records[env_call]["message"]["id"]
    records.insert(env_call, record)
    return records


def _claude_call(records: Iterable[dict[str, Any]], call_id: str) -> dict[str, Any]:
    for record in records:
        for block in (record.get("message") or {}).get("content") or ():
            if isinstance(block, dict) and block.get("type") == "tool_use" and block.get("id") == call_id:
                return block
    raise KeyError(call_id)


# --- Gemini CLI -----------------------------------------------------------------------------------------------------
def replay_gemini_cli(records: list[dict[str, Any]], hooks: HookCommands, transcript: str) -> Replay:
    replay = Replay()
    session = records[0]["sessionId"]
    cwd = "/home/dev/shop"
    started: set[str] = set()
    denied: dict[str, str] = {}
    last_gemini = max((i for i, r in enumerate(records) if r.get("type") == "gemini"), default=-1)
    for index, record in enumerate(records):
        if record.get("type") == "gemini" and record["id"] not in started:
            started.add(record["id"])
            calls = record.get("toolCalls") or []
            if calls:  # the message (thoughts, text) is written before BeforeTool; its calls after
                _append(transcript, {k: v for k, v in record.items() if k != "toolCalls"})
                for call in calls:
                    payload = {**_base(session, transcript, cwd, "BeforeTool"), "tool_name": call["name"],
                               "tool_input": call["args"], "timestamp": record["timestamp"]}
                    answers = hooks.fire("BeforeTool", payload, call["name"])
                    replay.calls.extend(answers)
                    if any(a.verdict == "deny" for a in answers):
                        denied[call["id"]] = next(a.reason for a in answers if a.verdict == "deny")
        if record.get("type") == "gemini" and any(c["id"] in denied for c in record.get("toolCalls") or ()):
            record = json.loads(json.dumps(record))
            for call in record["toolCalls"]:
                if call["id"] in denied:
                    call.update(status="error", result=[{"functionResponse": {
                        "id": call["id"], "name": call["name"], "response": {"error": denied[call["id"]]}}}])
        _append(transcript, record)
        if record.get("type") == "gemini":
            for call in record.get("toolCalls") or ():
                if call.get("result") is not None and call["id"] not in denied and call.get("status") != "error":
                    payload = {**_base(session, transcript, cwd, "AfterTool"), "tool_name": call["name"],
                               "tool_input": call["args"], "tool_response": {"llmContent": call["result"]}}
                    replay.calls.extend(hooks.fire("AfterTool", payload, call["name"]))
            if index == last_gemini:
                replay.calls.extend(hooks.fire("AfterAgent", {**_base(session, transcript, cwd, "AfterAgent"),
                                                              "prompt": "", "prompt_response": "",
                                                              "stop_hook_active": False}))
    replay.calls.extend(hooks.fire("SessionEnd", {**_base(session, transcript, cwd, "SessionEnd"),
                                                  "reason": "exit"}))
    return replay


# --- Codex CLI ----------------------------------------------------------------------------------------------------------
def codex_hook_call(payload: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """(tool_name, tool_input) Codex gives PreToolUse for a rollout call item; None for calls it has no hook for."""
    kind = payload.get("type")
    if kind == "custom_tool_call" and payload.get("name") == "apply_patch":
        return "apply_patch", {"command": payload["input"]}
    if kind == "local_shell_call":
        return "Bash", {"command": argv_to_command(payload["action"]["command"])}
    if kind == "function_call" and payload.get("name") in ("shell", "exec_command"):
        arguments = json.loads(payload["arguments"])
        command = arguments.get("command", arguments.get("cmd"))
        return "Bash", {"command": argv_to_command(command) if isinstance(command, list) else command}
    return None


def replay_codex(records: list[dict[str, Any]], hooks: HookCommands, transcript: str) -> Replay:
    replay = Replay()
    session = records[0]["payload"]["id"]
    cwd = records[0]["payload"].get("cwd", "/")
    pending: dict[str, tuple[str, dict[str, Any]]] = {}
    denied: dict[str, str] = {}
    for record in records:
        payload = record.get("payload") or {}
        kind = payload.get("type")
        if record.get("type") == "response_item" and kind in ("function_call_output", "custom_tool_call_output") \
                and payload.get("call_id") in denied:
            record = {**record, "payload": {**payload, "output": {"content": denied[payload["call_id"]],
                                                                  "success": False}}}
        _append(transcript, record)
        if record.get("type") == "response_item":
            hooked = codex_hook_call(payload)
            if hooked is not None:  # the call item is recorded, then the tool is queued: PreToolUse
                tool, tool_input = hooked
                answers = hooks.fire("PreToolUse", {**_base(session, transcript, cwd, "PreToolUse"),
                                                    "turn_id": "turn-1", "model": "gpt-5.2-codex",
                                                    "permission_mode": "default", "tool_name": tool,
                                                    "tool_input": tool_input, "tool_use_id": payload["call_id"]},
                                     tool)
                replay.calls.extend(answers)
                pending[payload["call_id"]] = hooked
                if any(a.verdict == "deny" for a in answers):
                    denied[payload["call_id"]] = next(a.reason for a in answers if a.verdict == "deny")
            elif kind in ("function_call_output", "custom_tool_call_output") and payload["call_id"] in pending \
                    and payload["call_id"] not in denied:
                tool, tool_input = pending[payload["call_id"]]
                replay.calls.extend(hooks.fire("PostToolUse", {**_base(session, transcript, cwd, "PostToolUse"),
                                                               "tool_name": tool, "tool_input": tool_input,
                                                               "tool_use_id": payload["call_id"],
                                                               "tool_response": payload.get("output")}, tool))
        if record.get("type") == "event_msg" and kind == "task_complete":
            replay.calls.extend(hooks.fire("Stop", {**_base(session, transcript, cwd, "Stop"),
                                                    "stop_hook_active": False}))
    return replay  # Codex has no SessionEnd hook


def checker_pid(env: dict[str, str]) -> int | None:
    """The pid of the checker serving ``env``'s socket (from its status answer), or None."""
    from otel_cot.hooks import client

    try:
        sock = client.open_connection(client.socket_path(env), 1.0)
    except OSError:
        return None
    try:
        _code, out, _err = client.ask_checker(sock, "-", "status", "", b"", 5.0)
    except (OSError, client.CheckerError):
        return None
    finally:
        sock.close()
    return int(json.loads(out)["pid"])


_STOPPING: list[int] = []  # checkers asked to stop whose exit is waited for later (see stop_checker)


def stop_checker(env: dict[str, str], timeout: float = 20.0, wait: bool = True) -> None:
    """Stop the checker of ``env`` (asked first; by its pid if it does not go). ``wait=False``: ask now and
    leave the waiting to :func:`reap_stopped_checkers` (a checker takes up to its 0.2 s poll interval to go)."""
    pid = checker_pid(env)
    if pid is None:
        return
    from otel_cot.hooks import client

    try:
        sock = client.open_connection(client.socket_path(env), 1.0)
        try:
            client.ask_checker(sock, "-", "stop", "", b"", 5.0)
        finally:
            sock.close()
    except (OSError, client.CheckerError):
        pass
    if wait:
        _wait_or_kill([pid], timeout)
    else:  # (those gone are dropped now, so a pid the system hands out again is not taken for a checker)
        _STOPPING[:] = [p for p in _STOPPING if _running(p)] + [pid]


def reap_stopped_checkers(timeout: float = 20.0) -> None:
    """Wait for the checkers :func:`stop_checker` asked to stop without waiting; kill those still running."""
    pids, _STOPPING[:] = list(_STOPPING), []
    _wait_or_kill(pids, timeout)


def _wait_or_kill(pids: list[int], timeout: float) -> None:
    import signal
    import time

    deadline = time.monotonic() + timeout
    while pids and time.monotonic() < deadline:
        pids = [pid for pid in pids if _running(pid)]
        if pids:
            time.sleep(0.05)
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _running(pid: int) -> bool:
    """Whether ``pid`` still runs. A checker that exited stays a zombie until init reaps it (the hook client
    that started it has gone), which can take a second or more: that counts as gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
    except OSError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


class ServiceHooks(HookCommands):
    """The same hooks answered in this process by a :class:`~otel_cot.hooks.service.HookService` (no shell, no
    checker process): for tests about what the checker does rather than how it is reached."""

    def __init__(self, agent: str, service: Any, policy: str) -> None:
        self.agent, self.service, self.policy = agent, service, policy

    def fire(self, event: str, payload: dict[str, Any], tool: str | None = None) -> list[HookCall]:
        code, out, err = self.service.handle(self.agent, event, self.policy, json.dumps(payload).encode())
        verdict, reason = self._verdict(code, out.decode(), err.decode())
        return [HookCall(event, tool, payload.get("tool_input"), code, out.decode(), err.decode(), verdict, reason)]
