"""``otel-cot watch``: the session files of three agents followed as they are written, exported once each.

In-process tests drive ``Watcher.step()`` against an in-memory exporter; the process tests run the real
command against a loopback OTLP receiver and kill it with SIGKILL half-way through a session."""

from __future__ import annotations

import collections
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otel_cot.coding_agents.session import read_session_file
from otel_cot.coding_agents.state import load_state
from otel_cot.coding_agents.watch import Watcher
from tests.support.coding_sessions import fixture, lines_of, long_claude_session
from tests.support.otlp_sink import OtlpSink

CLAUDE_SID = "6f1c2a9e-4b7d-4e21-9a3c-5d8e7f9a0b1c"
CODEX_NAME = "rollout-2026-03-03T14-00-00-0199a213-81c0-7800-8aa1-bbab2a035a53.jsonl"
GEMINI_NAME = "session-2026-03-04T10-00-7c8d9e0f.jsonl"


def _layout(home):
    """Where each agent keeps its files, under ``home`` (the agents' own layout)."""
    return {"claude_code": str(home / "claude" / "projects"), "codex": str(home / "codex" / "sessions"),
            "gemini_cli": str(home / "gemini" / "tmp")}


def _targets(dirs):
    """(agent, fixture path, where the agent would write it) for every fixture session."""
    claude = os.path.join(dirs["claude_code"], "-home-dev-shop")
    codex = os.path.join(dirs["codex"], "2026", "03", "03")
    gemini = os.path.join(dirs["gemini_cli"], "3f7a9c2e", "chats")
    out = [("claude_code", fixture("claude_code", "session.jsonl"), os.path.join(claude, f"{CLAUDE_SID}.jsonl")),
           ("claude_code", fixture("claude_code", CLAUDE_SID, "subagents", "agent-a4f9c21.jsonl"),
            os.path.join(claude, CLAUDE_SID, "subagents", "agent-a4f9c21.jsonl")),
           ("claude_code", fixture("claude_code", "benign.jsonl"), os.path.join(claude, "2b8d4e6f.jsonl")),
           ("claude_code", fixture("claude_code", "v1.0-inline-sidechain.jsonl"), os.path.join(claude, "v1.jsonl"))]
    for name in sorted(os.listdir(fixture("codex"))):
        out.append(("codex", fixture("codex", name), os.path.join(codex, name)))
    for name in sorted(os.listdir(fixture("gemini_cli"))):
        out.append(("gemini_cli", fixture("gemini_cli", name), os.path.join(gemini, name)))
    return out


def _expected(targets):
    spans = []
    for agent, source, _dest in targets:
        spans.extend(read_session_file(agent, source).spans)
    return spans


def _signature(spans):
    return sorted((s.context.span_id, s.parent.span_id if s.parent else None, s.name, s.start_time, s.end_time,
                   json.dumps(dict(s.attributes), sort_keys=True, default=str)) for s in spans)


def _copy(source, dest):
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    shutil.copyfile(source, dest)


def _claude_file(tmp_path, name=f"{CLAUDE_SID}.jsonl"):
    dest = os.path.join(_layout(tmp_path)["claude_code"], "p", name)
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    return dest


def _whole_claude_session():
    return read_session_file("claude_code", fixture("claude_code", "session.jsonl")).spans


def _watcher(tmp_path, exporter, **kw):
    kw.setdefault("idle_s", 3600.0)
    return Watcher(_layout(tmp_path), exporter, state_path=str(tmp_path / "state.json"), **kw)


# --- in-process ------------------------------------------------------------------------------------------
def test_once_exports_every_session_as_the_reader_reads_it_and_a_second_run_nothing(tmp_path):
    targets = _targets(_layout(tmp_path))
    for _agent, source, dest in targets:
        _copy(source, dest)
    exporter = InMemorySpanExporter()
    assert _watcher(tmp_path, exporter).run(once=True) == 0
    got = exporter.get_finished_spans()
    assert _signature(got) == _signature(_expected(targets))
    assert len({s.context.span_id for s in got}) == len(got)
    again = InMemorySpanExporter()
    assert _watcher(tmp_path, again).run(once=True) == 0
    assert again.get_finished_spans() == ()


def test_a_line_written_in_two_halves_is_read_when_complete(tmp_path):
    dest = _claude_file(tmp_path)
    lines = lines_of(fixture("claude_code", "session.jsonl"))
    exporter = InMemorySpanExporter()
    watcher = _watcher(tmp_path, exporter)
    with open(dest, "wb") as fh:
        fh.writelines(lines[:5])
    assert watcher.step(force_scan=True)
    seen = len(exporter.get_finished_spans())
    assert seen > 0  # the first model turn and its tool call are complete
    offset = load_state(str(tmp_path / "state.json"))[dest]["offset"]
    half = len(lines[5]) // 2
    with open(dest, "ab") as fh:
        fh.write(lines[5][:half])
    assert watcher.step()
    assert len(exporter.get_finished_spans()) == seen
    assert load_state(str(tmp_path / "state.json"))[dest]["offset"] == offset
    with open(dest, "ab") as fh:
        fh.write(lines[5][half:])
        fh.writelines(lines[6:])
    assert watcher.step() and watcher.finish_all()
    assert _signature(exporter.get_finished_spans()) == _signature(_whole_claude_session())


def test_a_replaced_file_ends_the_old_session_and_is_read_from_its_start(tmp_path):
    dest = _claude_file(tmp_path, "current.jsonl")
    first, second = fixture("claude_code", "session.jsonl"), fixture("claude_code", "benign.jsonl")
    lines = lines_of(first)
    with open(dest, "wb") as fh:
        fh.writelines(lines[:8])
    exporter = InMemorySpanExporter()
    watcher = _watcher(tmp_path, exporter)
    assert watcher.step(force_scan=True)
    tmp = dest + ".new"
    shutil.copyfile(second, tmp)
    os.replace(tmp, dest)  # a new inode under the same name
    assert watcher.step()
    old_trace = read_session_lines_spans(lines[:8])  # the replaced session, ended where it was cut off
    got = exporter.get_finished_spans()
    assert _signature([s for s in got if s.context.trace_id == old_trace[0].context.trace_id]) == \
        _signature(old_trace)
    assert sum(s.parent is None for s in got) == 1  # only the replaced session ended so far
    assert watcher.finish_all()
    benign = read_session_file("claude_code", second).spans
    new = [s for s in exporter.get_finished_spans() if s.context.trace_id == benign[0].context.trace_id]
    assert _signature(new) == _signature(benign)


def read_session_lines_spans(lines):
    from otel_cot.coding_agents.session import read_session_lines

    return read_session_lines("claude_code", lines).spans


def test_a_truncated_file_is_read_again_from_its_start(tmp_path):
    dest = os.path.join(_layout(tmp_path)["codex"], "2026", "03", "03", CODEX_NAME)
    _copy(fixture("codex", CODEX_NAME), dest)
    exporter = InMemorySpanExporter()
    watcher = _watcher(tmp_path, exporter)
    assert watcher.step(force_scan=True)
    before = len(exporter.get_finished_spans())
    with open(dest, "wb") as fh:  # same inode, shorter: the agent started it over
        fh.writelines(lines_of(fixture("codex", CODEX_NAME))[:3])
    assert watcher.step()
    assert load_state(str(tmp_path / "state.json"))[dest]["offset"] == os.path.getsize(dest)
    assert len(exporter.get_finished_spans()) > before  # the first file's open state and root were exported


def test_a_deleted_file_exports_what_it_held_and_leaves_the_state(tmp_path):
    dest = os.path.join(_layout(tmp_path)["gemini_cli"], "h", "chats", GEMINI_NAME)
    lines = lines_of(fixture("gemini_cli", GEMINI_NAME))
    os.makedirs(os.path.dirname(dest))
    with open(dest, "wb") as fh:
        fh.writelines(lines[:-4])  # the last gemini message is still open
    exporter = InMemorySpanExporter()
    watcher = _watcher(tmp_path, exporter)
    assert watcher.step(force_scan=True)
    before = {s.context.span_id for s in exporter.get_finished_spans()}
    assert not any(s.parent is None for s in exporter.get_finished_spans())
    os.unlink(dest)
    assert watcher.step(force_scan=True)
    after = exporter.get_finished_spans()
    assert any(s.parent is None for s in after) and len(after) > len(before)
    assert dest not in load_state(str(tmp_path / "state.json"))


def test_idle_session_gets_its_root_once_even_when_it_continues(tmp_path):
    dest = _claude_file(tmp_path)
    lines = lines_of(fixture("claude_code", "session.jsonl"))
    with open(dest, "wb") as fh:
        fh.writelines(lines[:10])
    now = [time.time()]
    exporter = InMemorySpanExporter()
    watcher = _watcher(tmp_path, exporter, idle_s=60.0, clock=lambda: now[0])
    assert watcher.step(force_scan=True)
    assert not any(s.parent is None for s in exporter.get_finished_spans())
    now[0] += 61  # nothing written for a minute: the session's root (and what is open) is exported
    assert watcher.step()
    assert sum(s.parent is None for s in exporter.get_finished_spans()) == 1
    with open(dest, "ab") as fh:
        fh.writelines(lines[10:])
    now[0] = time.time()
    assert watcher.step()
    now[0] += 61
    assert watcher.step()
    got = exporter.get_finished_spans()
    assert sum(s.parent is None for s in got) == 1
    assert len({s.context.span_id for s in got}) == len(got)


def test_a_refused_export_is_retried_and_the_state_waits_for_it(tmp_path):
    dest = _claude_file(tmp_path)
    _copy(fixture("claude_code", "session.jsonl"), dest)

    class Flaky(InMemorySpanExporter):
        refuse = True

        def export(self, spans):
            if self.refuse:
                return SpanExportResult.FAILURE
            return super().export(spans)

    exporter = Flaky()
    watcher = _watcher(tmp_path, exporter)
    assert not watcher.step(force_scan=True)
    assert not os.path.exists(tmp_path / "state.json") and watcher.counters.errors == 1
    exporter.refuse = False
    assert watcher.step() and watcher.finish_all()
    assert _signature(exporter.get_finished_spans()) == _signature(_whole_claude_session())


def test_a_line_longer_than_a_read_is_skipped_and_counted(tmp_path):
    dest = _claude_file(tmp_path, "long.jsonl")
    lines = list(long_claude_session(3))
    with open(dest, "wb") as fh:
        fh.writelines(lines[:2] + [b'{"type":"user","filler":"' + b"x" * 5000 + b'"}\n'] + lines[2:])
    exporter = InMemorySpanExporter()
    watcher = _watcher(tmp_path, exporter, max_read=1024)
    assert watcher.step(force_scan=True) and watcher.finish_all()
    assert watcher.counters.errors == 1
    expected = read_session_lines_spans(lines)
    assert _signature(exporter.get_finished_spans()) == _signature(expected)


def test_what_cannot_be_read_as_a_session_file_does_not_stop_watch(tmp_path, monkeypatch):
    """A directory named like a session, a file deleted between its stat and its read: the other sessions are
    exported (an OSError out of the read ended watch, and it ended again at every restart)."""
    os.makedirs(_claude_file(tmp_path, "a-directory.jsonl"))
    _copy(fixture("claude_code", "session.jsonl"), _claude_file(tmp_path))
    gone = _claude_file(tmp_path, "gone.jsonl")
    _copy(fixture("claude_code", "benign.jsonl"), gone)
    real_open = open

    def open_that_loses_a_file(path, *args, **kwargs):
        if path == gone:
            raise FileNotFoundError(2, "No such file or directory", path)
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr("builtins.open", open_that_loses_a_file)
    exporter = InMemorySpanExporter()
    watcher = _watcher(tmp_path, exporter)
    assert watcher.run(once=True) == 0
    assert _signature(exporter.get_finished_spans()) == _signature(_whole_claude_session())
    assert watcher.counters.errors >= 1


def test_since_ignores_old_untouched_files(tmp_path):
    old = os.path.join(_layout(tmp_path)["claude_code"], "p", "old.jsonl")
    _copy(fixture("claude_code", "benign.jsonl"), old)
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    exporter = InMemorySpanExporter()
    assert _watcher(tmp_path, exporter, since_s=3600).run(once=True) == 0
    assert exporter.get_finished_spans() == ()


# --- the real command ------------------------------------------------------------------------------------
def _env(tmp_path, sink):
    env = dict(os.environ)
    for var in ("CLAUDE_CONFIG_DIR", "CODEX_HOME", "GEMINI_CLI_HOME", "XDG_STATE_HOME"):
        env.pop(var, None)
    env.update(HOME=str(tmp_path / "home"), OTEL_EXPORTER_OTLP_ENDPOINT=sink.url,
               OTEL_EXPORTER_OTLP_PROTOCOL="http/protobuf", OTEL_TRACES_EXPORTER="otlp",
               XDG_STATE_HOME=str(tmp_path / "state"))
    return env


def _home_dirs(tmp_path):
    home = tmp_path / "home"
    return {"claude_code": str(home / ".claude" / "projects"), "codex": str(home / ".codex" / "sessions"),
            "gemini_cli": str(home / ".gemini" / "tmp")}


def _watch(env, *args):
    return subprocess.Popen([sys.executable, "-m", "otel_cot.cli", "watch", *args], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _wait(predicate, timeout=30.0, what=""):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _wait_read_to_end(state, dest):
    _wait(lambda: state.exists() and load_state(str(state)).get(dest, {}).get("offset") == os.path.getsize(dest),
          what=f"the state to reach the end of {dest}")


@pytest.mark.process
def test_cli_once_exports_to_an_otlp_receiver(tmp_path):
    sink = OtlpSink()
    try:
        targets = _targets(_home_dirs(tmp_path))
        for _agent, source, dest in targets:
            _copy(source, dest)
        env = _env(tmp_path, sink)
        done = subprocess.run([sys.executable, "-m", "otel_cot.cli", "watch", "--once", "--detect"], env=env,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert "files followed" in done.stderr and "0 errors" in done.stderr
        got = sink.spans()
        expected = _expected(targets)
        assert collections.Counter(s["span_id"] for s in got) == collections.Counter(
            format(s.context.span_id, "016x") for s in expected)
        flagged = {s["name"] for s in got if s["attributes"].get("cot.flagged")}
        assert flagged and all(name.split(" ")[0] == "chat" for name in flagged)
        services = {s["resource"]["service.name"] for s in got}
        assert services == {"claude-code", "codex_cli_rs", "gemini-cli"}
    finally:
        sink.close()


@pytest.mark.process
@pytest.mark.parametrize("agent", ["claude_code", "codex", "gemini_cli"])
def test_sigkill_mid_session_then_restart_exports_every_record_once(tmp_path, agent):
    """The session is written line by line while ``watch`` runs; ``watch`` is killed with SIGKILL twice, at
    different points of the session, and restarted; at the end every span the session has is at the receiver
    exactly once."""
    sink = OtlpSink()
    procs = []
    try:
        env = _env(tmp_path, sink)
        source, dest = {
            "claude_code": (fixture("claude_code", "session.jsonl"),
                            os.path.join(_home_dirs(tmp_path)["claude_code"], "p", f"{CLAUDE_SID}.jsonl")),
            "codex": (fixture("codex", CODEX_NAME),
                      os.path.join(_home_dirs(tmp_path)["codex"], "2026", "03", "03", CODEX_NAME)),
            "gemini_cli": (fixture("gemini_cli", GEMINI_NAME),
                           os.path.join(_home_dirs(tmp_path)["gemini_cli"], "h", "chats", GEMINI_NAME)),
        }[agent]
        os.makedirs(os.path.dirname(dest))
        lines = lines_of(source)
        state = tmp_path / "state" / "otel-cot" / "watch-state.json"
        kills = {len(lines) // 3, 2 * len(lines) // 3}
        proc = _watch(env, "--poll", "0.05", "--idle", "3600", "-q")
        procs.append(proc)
        for i, line in enumerate(lines):
            with open(dest, "ab") as fh:
                fh.write(line)
            if i in kills:
                _wait_read_to_end(state, dest)  # the watcher has read this line and saved its state: kill it
                proc.send_signal(signal.SIGKILL)
                proc.wait(10)
                proc = _watch(env, "--poll", "0.05", "--idle", "3600", "-q")
                procs.append(proc)
        _wait_read_to_end(state, dest)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        # the session is over: a short idle time ends its trace
        proc = _watch(env, "--poll", "0.05", "--idle", "0.2", "-q")
        procs.append(proc)
        _wait(lambda: any(not s["parent"] for s in sink.spans()), what="the root span")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
        got = collections.Counter(s["span_id"] for s in sink.spans())
        expected = read_session_file(agent, source).spans
        assert got == collections.Counter(format(s.context.span_id, "016x") for s in expected)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait(10)
        sink.close()
