"""The ``otel-cot`` command: every error is one line on stderr and exit status 2 for a usage or input error; a
closed pipe ends it quietly; what it reads it reads in every shape Jaeger and the Collector write. The command
itself (its entry point, usage errors, a closed pipe) runs as a user runs it, a real subprocess; what a
command reads and says runs in this process (``run``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from otel_cot import __version__
from tests.support.cli import run_here

OTEL_COT = str(Path(sys.executable).parent / "otel-cot")
TRACE = "0af7651916cd43dd8448eb211c80319c"
run = run_here


def run_command(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([OTEL_COT, *args], capture_output=True, text=True, timeout=300)


def one_error_line(proc: subprocess.CompletedProcess[str], status: int, starts: str) -> str:
    assert proc.returncode == status, (proc.returncode, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, f"expected one line, got:\n{proc.stderr}"
    assert lines[0].startswith(starts), lines[0]
    assert proc.stdout == ""
    return lines[0]


def otlp_document(spans: list[tuple[str, dict[str, str]]]) -> dict:
    return {"resourceSpans": [{"resource": {"attributes": []}, "scopeSpans": [{"scope": {"name": "x"}, "spans": [
        {"traceId": TRACE, "spanId": f"{i + 1:016x}", "name": name, "startTimeUnixNano": str(1000 * (i + 1)),
         "endTimeUnixNano": str(1000 * (i + 1) + 500),
         "attributes": [{"key": k, "value": {"stringValue": v}} for k, v in attrs.items()]}
        for i, (name, attrs) in enumerate(spans)]}]}]}


def force_push(n: int = 1) -> list[tuple[str, dict[str, str]]]:
    return [("execute_tool Bash", {"gen_ai.tool.name": "Bash",
                                   "gen_ai.tool.call.arguments": '{"command": "git push --force origin main"}'})] * n


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


# --- scan: what it reads -------------------------------------------------------------------------------
def _scan_categories(path: Path) -> list[str]:
    proc = run("scan", "--json", str(path))
    assert proc.returncode == 0, proc.stderr
    return [json.loads(line)["category"] for line in proc.stdout.splitlines()]


def test_scan_reads_jaegers_v3_api_json_one_document_and_streamed(tmp_path):
    """``/api/v3/traces/ID`` wraps the OTLP JSON in ``{"result": ...}``; its search streams one such object a
    line."""
    result = {"result": otlp_document(force_push())}
    assert _scan_categories(write(tmp_path, "v3.json", json.dumps(result, indent=2))) == ["destructive_action"]
    streamed = write(tmp_path, "v3-search.json", json.dumps(result) + "\n" + json.dumps(result) + "\n")
    assert _scan_categories(streamed) == ["destructive_action", "destructive_action"]


def test_scan_reads_plain_otlp_json_and_jaegers_v1_json(tmp_path):
    assert _scan_categories(write(tmp_path, "otlp.json", json.dumps(otlp_document(force_push())))) == [
        "destructive_action"]
    v1 = {"data": [{"traceID": TRACE, "spans": [{
        "traceID": TRACE, "spanID": "2" * 16, "operationName": "execute_tool Bash", "references": [],
        "startTime": 1, "duration": 5, "tags": [
            {"key": "gen_ai.tool.name", "type": "string", "value": "Bash"},
            {"key": "gen_ai.tool.call.arguments", "type": "string",
             "value": '{"command": "git push --force origin main"}'}]}]}], "total": 0, "errors": None}
    assert _scan_categories(write(tmp_path, "v1.json", json.dumps(v1))) == ["destructive_action"]


# --- scan: errors --------------------------------------------------------------------------------------
def test_scan_a_missing_file(tmp_path):
    one_error_line(run("scan", str(tmp_path / "nope.json")), 2,
                   f"otel-cot scan: {tmp_path / 'nope.json'}: cannot read it (No such file or directory)")


def test_scan_a_directory_and_a_binary_file(tmp_path):
    one_error_line(run("scan", str(tmp_path)), 2, f"otel-cot scan: {tmp_path}: cannot read it (Is a directory)")
    binary = write(tmp_path, "trace.json", bytes(range(256)))
    one_error_line(run("scan", str(binary)), 2, f"otel-cot scan: {binary}: not a text file (not UTF-8)")


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root reads a file whatever its mode")
def test_scan_a_file_without_read_permission(tmp_path):
    path = write(tmp_path, "trace.json", json.dumps(otlp_document(force_push())))
    path.chmod(0)
    one_error_line(run("scan", str(path)), 2, f"otel-cot scan: {path}: cannot read it (Permission denied)")


def test_scan_malformed_json_names_the_line(tmp_path):
    document = write(tmp_path, "doc.json", '{\n  "resourceSpans": [\n    {"scopeSpans": [}\n  ]\n}\n')
    one_error_line(run("scan", str(document)), 2, f"otel-cot scan: {document}:3: not JSON (")
    line = json.dumps(otlp_document(force_push()))
    jsonl = write(tmp_path, "lines.json", f"{line}\n{line}\n{line[:40]}\n{line}\n")
    one_error_line(run("scan", str(jsonl)), 2, f"otel-cot scan: {jsonl}:3: not JSON (")


@pytest.mark.parametrize("content,says", [
    ('{"resourceSpans": 5}', '"resourceSpans" is a number, expected a list'),
    ('{"resourceSpans": [{"scopeSpans": {"spans": []}}]}', "resourceSpans[0].scopeSpans is an object, expected a list"),
    ('{"resourceSpans": [{"scopeSpans": [{"spans": [{"attributes": 7}]}]}]}',
     "resourceSpans[0].scopeSpans[0].spans[0] is not an OTLP span"),
    ('{"result": [1]}', '"result" is a list, expected an object'),
    ('{"data": [{"spans": "none"}]}', "data[0].spans is a string, expected a list"),
    ('{"error": {"httpCode": 404, "message": "No traces found"}}', "a Jaeger API error response, not traces"),
], ids=["resourceSpans-number", "scopeSpans-object", "span-attributes", "result-list", "jaeger-spans", "api-error"])
def test_scan_a_wrongly_shaped_file_says_where(tmp_path, content, says):
    path = write(tmp_path, "trace.json", content)
    one_error_line(run("scan", str(path)), 2, f"otel-cot scan: {path}: {says}")


@pytest.mark.parametrize("content,says", [
    ("", "empty file, no spans"),
    ("\n  \n", "empty file, no spans"),
    ("[1,2,3]", "not a trace file: expected OTLP JSON"),
    ("{}", "not a trace file: expected OTLP JSON"),
    ('{"resourceSpans": []}', "no spans in it"),
    ('{"data": []}', "no spans in it"),
], ids=["empty", "blank", "list", "empty-object", "no-resource-spans", "no-jaeger-traces"])
def test_scan_a_file_without_spans_is_an_input_error(tmp_path, content, says):
    """Never a silent "0 spans, 0 findings": a file that holds no span is an error."""
    path = write(tmp_path, "trace.json", content)
    one_error_line(run("scan", str(path)), 2, f"otel-cot scan: {path}: {says}")


def test_scan_stops_at_the_first_bad_file(tmp_path):
    good = write(tmp_path, "good.json", json.dumps(otlp_document(force_push())))
    proc = run("scan", str(good), str(tmp_path / "missing.json"))
    one_error_line(proc, 2, f"otel-cot scan: {tmp_path / 'missing.json'}: cannot read it")


@pytest.mark.process
def test_scan_piped_into_a_reader_that_stops_exits_quietly(tmp_path):
    """``otel-cot scan --json FILE | head -1``: the reader closes the pipe; no traceback, no message."""
    path = write(tmp_path, "many.json", json.dumps(otlp_document(force_push(3000))))
    proc = subprocess.Popen([OTEL_COT, "scan", "--json", str(path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    assert json.loads(proc.stdout.readline())["category"] == "destructive_action"
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=300) == 128 + 13, err  # as a shell reports a tool that SIGPIPE ended
    assert err == ""


# --- eval ----------------------------------------------------------------------------------------------
def trajectory(**overrides) -> str:
    return json.dumps({"id": "t1", "steps": [{"kind": "user", "text": "hi"}], "labels": [], **overrides})


@pytest.mark.parametrize("line,says", [
    (json.dumps({"id": "t2", "labels": ["reward_hacking"]}), 'no "steps": expected a trajectory'),
    (trajectory(steps="run the tests"), '"steps" is a string, expected a list'),
    (trajectory(steps=[{"text": "no kind"}]), "steps[0].kind is null, expected one of assistant, reasoning"),
    (trajectory(steps=[{"kind": "asistant", "text": "x"}]), 'steps[0].kind is "asistant", expected one of'),
    (trajectory(steps=["user: hi"]), 'steps[0] is a string, expected an object with a "kind"'),
    (trajectory(steps=[{"kind": "user", "text": 5}]), "steps[0].text is a number, expected a string"),
    (trajectory(labels="reward_hacking"), '"labels" is a string, expected a list of category names'),
    ("[1, 2]", "expected a trajectory"),
    ('{"id": "t3", "steps": [', "not JSON ("),
], ids=["no-steps", "steps-string", "no-kind", "unknown-kind", "step-string", "text-number", "labels-string",
        "list", "not-json"])
def test_eval_rejects_a_line_that_is_not_a_trajectory_naming_file_and_line(tmp_path, line, says):
    path = write(tmp_path, "data.jsonl", trajectory() + "\n\n" + line + "\n" + trajectory() + "\n")
    one_error_line(run("eval", str(path)), 2, f"otel-cot eval: {path}:3: {says}")


def test_eval_input_errors(tmp_path):
    one_error_line(run("eval", str(tmp_path / "nope.jsonl")), 2,
                   f"otel-cot eval: {tmp_path / 'nope.jsonl'}: cannot read it (No such file or directory)")
    empty = write(tmp_path, "empty.jsonl", "\n")
    one_error_line(run("eval", str(empty)), 2, f"otel-cot eval: {empty}: no trajectories in it")
    data = write(tmp_path, "data.jsonl", trajectory() + "\n")
    bad_yaml = write(tmp_path, "detectors.yaml", "detectors: [\n")
    one_error_line(run("eval", str(data), "--config", str(bad_yaml)), 2, f"otel-cot eval: {bad_yaml}: ")
    one_error_line(run("eval", str(data), "--config", str(tmp_path / "none.yaml")), 2,
                   f"otel-cot eval: {tmp_path / 'none.yaml'}: cannot read it")


def test_eval_an_output_file_that_cannot_be_written(tmp_path):
    data = write(tmp_path, "data.jsonl", trajectory() + "\n")
    proc = run("eval", str(data), "--json", str(tmp_path / "no-such-dir" / "out.json"))
    assert proc.returncode == 1 and "1 trajectories" in proc.stdout
    assert proc.stderr.strip() == f"otel-cot eval: cannot write {tmp_path / 'no-such-dir' / 'out.json'} " \
                                  "(No such file or directory)"


# --- the command itself --------------------------------------------------------------------------------
@pytest.mark.process
def test_version_and_help():
    proc = run_command("--version")
    assert proc.returncode == 0 and proc.stdout.strip() == f"otel-cot {__version__}"
    helped = run_command("--help").stdout
    assert "``" not in helped and "Find misaligned behaviour of AI agents" in helped
    for command in ("scan", "eval", "demo"):
        assert f"    {command} " in helped


@pytest.mark.process
def test_usage_errors_are_one_line_with_status_2():
    run = run_command
    one_error_line(run(), 2, "otel-cot: the following arguments are required: COMMAND (see 'otel-cot --help')")
    one_error_line(run("scan"), 2, "otel-cot scan: the following arguments are required: FILE")
    one_error_line(run("scna"), 2, "otel-cot: argument COMMAND: invalid choice: 'scna'")
    one_error_line(run("eval", "x.jsonl", "--timeout", "soon"), 2, "otel-cot eval: argument --timeout: invalid float")
