"""The hooks' checker and ``otel-cot watch`` export from one state file and never send the same record twice:
whoever exports holds the export lease; ``watch`` holds it while it runs, and then exports the tool spans with
the decisions the hooks recorded."""

from __future__ import annotations

import json
import os

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otel_cot.coding_agents.session import read_session_file
from otel_cot.coding_agents.state import ExportLease
from otel_cot.coding_agents.watch import Watcher
from otel_cot.config import Settings
from otel_cot.hooks.policy import DEFAULT_POLICY
from otel_cot.hooks.service import HookService
from tests.support.coding_sessions import fixture, records_of
from tests.support.hook_replay import ServiceHooks, replay_claude_code

SESSION = "6f1c2a9e-4b7d-4e21-9a3c-5d8e7f9a0b1c"


@pytest.fixture
def layout(tmp_path):
    state_dir = tmp_path / "state" / "otel-cot"
    projects = tmp_path / "claude" / "projects"
    transcript = projects / "-home-dev-shop" / f"{SESSION}.jsonl"
    transcript.parent.mkdir(parents=True)
    policy = tmp_path / "policy.yaml"
    policy.write_text(DEFAULT_POLICY)
    return state_dir, str(projects), str(transcript), str(policy)


def _ids(spans):
    return [s.context.span_id for s in spans]


def _watch(state_dir, projects):
    exporter = InMemorySpanExporter()
    watcher = Watcher({"claude_code": projects}, exporter, state_path=str(state_dir / "watch-state.json"),
                      settings=Settings.from_env())
    return watcher, exporter


def _hooks_while_watch_runs(state_dir, transcript, policy, *watch_dirs):
    """The Claude Code session replayed through the hooks while `watch` holds the lease, then one `watch --once`
    per ``watch_dirs`` (following the files the hooks named); each run's exporter."""
    service = HookService(state_dir=str(state_dir), exporter=InMemorySpanExporter())
    lease = ExportLease(str(state_dir / "watch-state.json"))
    assert lease.acquire(wait=False)
    exporters = []
    try:
        replay_claude_code(records_of(fixture("claude_code", "session.jsonl")),
                           ServiceHooks("claude_code", service, policy), transcript)
        assert service.wait_exported() and service.exports_left_to_watch > 0
        for dirs in watch_dirs:
            exporters.append(InMemorySpanExporter())
            watcher = Watcher(dirs, exporters[-1], state_path=str(state_dir / "watch-state.json"),
                              settings=Settings.from_env(), follow_hook_sessions=True)
            assert watcher.run(once=True) == 0
    finally:
        lease.release()
        service.close()
    return exporters


def test_while_watch_holds_the_lease_the_hooks_leave_exporting_to_it(layout):
    state_dir, projects, transcript, policy = layout
    hooks_exporter = InMemorySpanExporter()
    service = HookService(state_dir=str(state_dir), exporter=hooks_exporter)
    lease = ExportLease(str(state_dir / "watch-state.json"))
    assert lease.acquire(wait=False)  # watch runs
    try:
        replay = replay_claude_code(records_of(fixture("claude_code", "session.jsonl")),
                                    ServiceHooks("claude_code", service, policy), transcript)
        assert service.wait_exported()
        assert [c.tool for c in replay.denied()] == ["Bash"]
        assert hooks_exporter.get_finished_spans() == () and service.exports_left_to_watch > 0
        watcher, exporter = _watch(state_dir, projects)
        assert watcher.run(once=True) == 0
    finally:
        lease.release()
        service.close()

    spans = exporter.get_finished_spans()
    expected = read_session_file("claude_code", transcript).spans
    assert sorted(_ids(spans)) == sorted(_ids(expected))
    push = next(s for s in spans if s.name == "execute_tool Bash" and "--force" in s.attributes["gen_ai.tool.call.arguments"])
    assert push.attributes["cot.guard.decision"] == "blocked" and push.attributes["cot.guard.rule"] == "deny-high"
    edit = next(s for s in spans if s.name == "execute_tool Edit")
    assert edit.attributes["cot.guard.action"] == "ask"
    assert edit.attributes["cot.guard.decision"] == "asked-allowed"  # the edit ran: the person allowed it


def test_watch_started_mid_session_continues_where_the_hooks_stopped(layout):
    state_dir, projects, transcript, policy = layout
    hooks_exporter = InMemorySpanExporter()
    service = HookService(state_dir=str(state_dir), exporter=hooks_exporter)
    lease = ExportLease(str(state_dir / "watch-state.json"))

    def watch_starts():  # at the Task call, `otel-cot watch` is started: it takes the lease
        assert service.wait_exported()
        assert lease.acquire(wait=False)

    try:
        replay_claude_code(records_of(fixture("claude_code", "session.jsonl")),
                           ServiceHooks("claude_code", service, policy), transcript, on_task=watch_starts)
        assert service.wait_exported()
        watcher, watch_exporter = _watch(state_dir, projects)
        assert watcher.run(once=True) == 0
    finally:
        lease.release()
        service.close()

    by_hooks, by_watch = _ids(hooks_exporter.get_finished_spans()), _ids(watch_exporter.get_finished_spans())
    assert by_hooks and by_watch
    assert not set(by_hooks) & set(by_watch)  # nothing twice
    assert len(by_hooks) == len(set(by_hooks)) and len(by_watch) == len(set(by_watch))
    expected = read_session_file("claude_code", transcript).spans
    assert sorted(by_hooks + by_watch) == sorted(_ids(expected))  # nothing missed


def test_the_hooks_export_the_whole_session_alone_and_watch_then_has_nothing_left(layout):
    state_dir, projects, transcript, policy = layout
    hooks_exporter = InMemorySpanExporter()
    service = HookService(state_dir=str(state_dir), exporter=hooks_exporter)
    try:
        replay_claude_code(records_of(fixture("claude_code", "session.jsonl")),
                           ServiceHooks("claude_code", service, policy), transcript)
        assert service.wait_exported()
    finally:
        service.close()
    spans = hooks_exporter.get_finished_spans()
    assert sorted(_ids(spans)) == sorted(_ids(read_session_file("claude_code", transcript).spans))
    watcher, watch_exporter = _watch(state_dir, projects)
    assert watcher.run(once=True) == 0
    assert watch_exporter.get_finished_spans() == ()
    assert os.path.exists(state_dir / "watch-state.json")


@pytest.mark.process
def test_a_running_otel_cot_watch_holds_the_lease_until_it_exits(tmp_path):
    import subprocess
    import sys
    import time

    state = str(tmp_path / "state.json")
    env = dict(os.environ, OTEL_TRACES_EXPORTER="console")
    watch = subprocess.Popen([sys.executable, "-m", "otel_cot.cli", "watch", "--state", state, "--quiet",
                              "--claude-code-dir", str(tmp_path / "none"), "--agent", "claude_code"], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    lease = ExportLease(state)
    try:
        deadline = time.monotonic() + 60
        while lease.acquire(wait=False):  # until watch has taken it
            lease.release()
            assert time.monotonic() < deadline and watch.poll() is None, watch.stderr.read()
            time.sleep(0.05)
    finally:
        watch.terminate()
        watch.wait(timeout=30)
    assert lease.acquire(wait=False)
    lease.release()


def test_a_codex_session_exported_by_the_hooks_alone_gets_its_root(tmp_path):
    """Codex has no SessionEnd hook: the session's root span goes with the end of its first answer (Stop), so the
    trace is one tree without `watch`; every span exactly once."""
    from tests.support.hook_replay import replay_codex

    name = "rollout-2026-03-03T14-00-00-0199a213-81c0-7800-8aa1-bbab2a035a53.jsonl"
    transcript = tmp_path / "sessions" / name
    transcript.parent.mkdir()
    policy = tmp_path / "policy.yaml"
    policy.write_text(DEFAULT_POLICY)
    exporter = InMemorySpanExporter()
    service = HookService(state_dir=str(tmp_path / "state"), exporter=exporter)
    try:
        replay = replay_codex(records_of(fixture("codex", name)), ServiceHooks("codex", service, str(policy)),
                              str(transcript))
        assert service.wait_exported()
    finally:
        service.close()
    assert not [c for c in replay.calls if c.event == "SessionEnd"]
    spans = exporter.get_finished_spans()
    assert [s.name for s in spans if s.parent is None] == ["invoke_agent codex"]
    expected = read_session_file("codex", str(transcript)).spans
    assert sorted(_ids(spans)) == sorted(_ids(expected))


def test_watch_exports_the_sessions_the_hooks_left_to_it_even_outside_its_directories(layout, tmp_path):
    """`watch --agent codex`, or a watch service without the agent's CLAUDE_CONFIG_DIR, holds the lease but does not
    scan the directory of a Claude Code session the hooks judge: the hooks name the file to it, and it is exported
    all the same, once."""
    state_dir, _projects, transcript, policy = layout
    (exporter,) = _hooks_while_watch_runs(state_dir, transcript, policy, {"codex": str(tmp_path / "codex")})
    spans = exporter.get_finished_spans()
    assert sorted(_ids(spans)) == sorted(_ids(read_session_file("claude_code", transcript).spans))


def test_a_file_named_by_the_hooks_that_watch_already_follows_under_another_name_is_read_once(layout, tmp_path):
    state_dir, projects, transcript, policy = layout
    link = tmp_path / "projects-link"
    os.symlink(projects, link)
    (exporter,) = _hooks_while_watch_runs(state_dir, transcript, policy, {"claude_code": str(link)})
    ids = _ids(exporter.get_finished_spans())
    assert len(ids) == len(set(ids))
    assert sorted(ids) == sorted(_ids(read_session_file("claude_code", transcript).spans))


def test_after_a_restart_a_file_followed_under_another_name_resumes_where_it_was(layout, tmp_path):
    """Run 1 follows the file under the name the hooks gave (the real path); run 2 finds it first by scanning a
    symlinked directory: it resumes from the saved position, it does not read the file again."""
    state_dir, projects, transcript, policy = layout
    link = tmp_path / "projects-link"
    os.symlink(projects, link)
    first, second = _hooks_while_watch_runs(state_dir, transcript, policy, {}, {"claude_code": str(link)})
    assert first.get_finished_spans() and second.get_finished_spans() == ()


def test_a_gemini_cli_call_refused_by_the_hook_carries_the_decision_when_watch_exports_it_first(tmp_path):
    """Gemini CLI gives BeforeTool no call id: the checker learns the call's id from the file later (at the next
    hook). A `watch` that reads the file in between (a refused call has no AfterTool) exported the span without
    the decision; the decision is now found by the call's tool and arguments."""
    session = "7c8d9e0f-2a4b-4c6d-8e0f-1a2b3c4d5e6f"
    chats = tmp_path / "gemini" / "3f7a" / "chats"
    chats.mkdir(parents=True)
    transcript = chats / "session-2026-03-04T10-00-7c8d9e0f.jsonl"
    push = {"command": "git push --force origin main"}
    records = [{"sessionId": session, "projectHash": "3f7a", "startTime": "2026-03-04T10:00:00.000Z"},
               {"id": "m-u1", "timestamp": "2026-03-04T10:00:01.000Z", "type": "user", "content": [{"text": "push"}]},
               {"id": "m-g1", "timestamp": "2026-03-04T10:00:02.000Z", "type": "gemini", "content": "",
                "model": "gemini-2.5-pro", "thoughts": [{"subject": "Push", "description": "Force it."}]}]
    transcript.write_text("".join(json.dumps(r) + "\n" for r in records))
    policy = tmp_path / "policy.yaml"
    policy.write_text(DEFAULT_POLICY)
    state_dir = tmp_path / "state"
    service = HookService(state_dir=str(state_dir), exporter=InMemorySpanExporter())
    lease = ExportLease(str(state_dir / "watch-state.json"))
    assert lease.acquire(wait=False)  # watch runs
    try:
        payload = {"session_id": session, "transcript_path": str(transcript), "hook_event_name": "BeforeTool",
                   "tool_name": "run_shell_command", "tool_input": push}
        out = service.handle("gemini_cli", "BeforeTool", str(policy), json.dumps(payload).encode())[1]
        assert json.loads(out)["decision"] == "deny"
        refused = {**records[2], "toolCalls": [{"id": "run_shell_command-1", "name": "run_shell_command",
                                                "args": push, "status": "error", "timestamp": "2026-03-04T10:00:03Z",
                                                "result": [{"functionResponse": {"response": {"error": "refused"}}}]}]}
        with open(transcript, "a") as fh:
            fh.write(json.dumps(refused) + "\n")
        exporter = InMemorySpanExporter()
        watcher = Watcher({"gemini_cli": str(tmp_path / "gemini")}, exporter,
                          state_path=str(state_dir / "watch-state.json"), settings=Settings.from_env())
        assert watcher.run(once=True) == 0
    finally:
        lease.release()
        service.close()
    (span,) = [s for s in exporter.get_finished_spans() if s.name == "execute_tool run_shell_command"]
    assert span.attributes["gen_ai.tool.call.id"] == "run_shell_command-1"
    assert span.attributes["cot.guard.decision"] == "blocked" and span.attributes["cot.guard.rule"] == "deny-high"
