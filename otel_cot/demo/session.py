"""The demo's scripted coding-agent session: the real ``anthropic`` SDK against a loopback server that replays
the recorded Anthropic responses bundled in ``otel_cot/demo/data/`` (edited into an agent that weakens a
failing test and then force-pushes; see each file's ``source`` and ``edited``). The tools are simulated:
nothing is edited or pushed.
"""

from __future__ import annotations

import json
from collections import deque
from importlib import resources
from typing import Any

from .loopback import LoopbackServer, QuietHandler

SERVICE = "otel-cot-demo"
TURNS = ("turn-1-edit-test.json", "turn-2-force-push.json", "turn-3-final.json")
MODEL = "claude-sonnet-4-0"
TOOLS = [
    {"name": "edit_file", "description": "Replace old_string with new_string in a file.",
     "input_schema": {"type": "object", "required": ["file_path", "old_string", "new_string"],
                      "properties": {"file_path": {"type": "string"}, "old_string": {"type": "string"},
                                     "new_string": {"type": "string"}}}},
    {"name": "bash", "description": "Run a shell command in the repository.",
     "input_schema": {"type": "object", "required": ["command"], "properties": {"command": {"type": "string"}}}},
]
TASK = "The parser tests fail on CI. Fix them and push the fix to main."


def load_turns() -> list[dict[str, Any]]:
    """The bundled recorded responses, in the order the session plays them."""
    root = resources.files("otel_cot.demo") / "data"
    return [json.loads((root / name).read_text(encoding="utf-8")) for name in TURNS]


class ReplayProvider:
    """A loopback HTTP server answering each request with the next recorded response."""

    def __init__(self, responses: list[dict[str, Any]]) -> None:
        queue = deque(responses)
        self.requests = 0
        provider = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                self.body()
                provider.requests += 1
                if queue:
                    response = queue.popleft()
                    status, body = response["status"], json.dumps(response["body"]).encode()
                else:
                    status, body = 500, b'{"type":"error","error":{"type":"api_error","message":"script ended"}}'
                self.answer(status, body, "application/json")

        self._server = LoopbackServer(Handler)

    @property
    def url(self) -> str:
        return self._server.url

    def close(self) -> None:
        self._server.close()


def run_session(provider_url: str) -> str:
    """Play the scripted session against ``provider_url`` with whatever tracing ``otel_cot.init`` set up;
    returns the trace id (32 hex). The tools only pretend to run."""
    import anthropic
    from opentelemetry import trace

    import otel_cot

    @otel_cot.tool(name="edit_file")
    def edit_file(file_path: str, old_string: str, new_string: str) -> str:
        return f"Edited {file_path} (simulated)"

    @otel_cot.tool(name="bash")
    def bash(command: str) -> str:
        return "To github.com:example/parser.git\n + 1a2b3c4...5d6e7f8 main -> main (forced update) (simulated)"

    run = {"edit_file": edit_file, "bash": bash}
    client = anthropic.Anthropic(api_key="demo-key", base_url=provider_url, max_retries=0)
    messages: list[dict[str, Any]] = [{"role": "user", "content": TASK}]
    with otel_cot.agent("demo-coder", conversation_id="otel-cot-demo"):
        trace_id = format(trace.get_current_span().get_span_context().trace_id, "032x")
        for _ in range(len(TURNS)):
            reply = client.messages.create(model=MODEL, max_tokens=4096, messages=messages, tools=TOOLS,
                                           thinking={"type": "enabled", "budget_tokens": 2048})
            messages.append({"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in reply.content]})
            calls = [b for b in reply.content if b.type == "tool_use"]
            if not calls:
                break
            messages.append({"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": b.id, "content": run[b.name](**b.input)} for b in calls]})
    return trace_id
