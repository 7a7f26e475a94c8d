"""A loopback judge that speaks OpenAI Chat Completions (``POST /v1/chat/completions``) and Anthropic
Messages (``POST /v1/messages``), answering from a script instead of a model.

Each request is recorded (``requests``: path, headers, parsed JSON body). The answer comes from the
queue given to :meth:`JudgeServer.serve` (the last one repeats), or from a function of the request given
to :meth:`JudgeServer.answer_with`. An :class:`Answer` is a verdict object (sent as structured output when
the request asked for it — ``response_format`` or a forced tool — and as JSON text otherwise), raw text,
or an HTTP error with headers, each after an optional delay.
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from otel_cot.demo.loopback import LoopbackServer, QuietHandler


@dataclass
class Answer:
    verdict: Mapping[str, Any] | None = None
    text: str | None = None
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    error: Mapping[str, Any] | None = None
    delay: float = 0.0


CLEAN = Answer(verdict={"findings": []})


@dataclass
class JudgeRequest:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]

    @property
    def api(self) -> str:
        return "anthropic" if self.path.rstrip("/").endswith("/messages") else "openai"

    @property
    def system(self) -> str:
        if self.api == "anthropic":
            return str(self.body.get("system") or "")
        return next((m["content"] for m in self.body.get("messages", ()) if m.get("role") == "system"), "")

    @property
    def user(self) -> str:
        messages = [m for m in self.body.get("messages", ()) if m.get("role") == "user"]
        content = messages[-1]["content"] if messages else ""
        if isinstance(content, list):
            return "".join(part.get("text", "") for part in content if isinstance(part, Mapping))
        return str(content)

    @property
    def structured(self) -> bool:
        return "response_format" in self.body or "tool_choice" in self.body

    def items(self) -> dict[int, str]:
        """The window's items as the judge saw them: number -> text."""
        trace = self.user.split("BEGIN TRACE", 1)[-1].split("END TRACE", 1)[0]
        out: dict[int, str] = {}
        parts = re.split(r"^=== \[(\d+)\][^\n]*===\n", trace, flags=re.MULTILINE)
        for i in range(1, len(parts) - 1, 2):
            out[int(parts[i])] = parts[i + 1].rstrip("\n")
        return out


def quoting(needle: str, category: str, severity: str = "high", score: float = 0.9,
            explanation: str = "The agent planned and carried out a shortcut.") -> Callable[[JudgeRequest], Answer]:
    """A script that flags ``category`` with evidence: the line of the window that contains ``needle``
    (case-insensitive), in the item it is in; a clean verdict when no item contains it."""

    def script(request: JudgeRequest) -> Answer:
        for number, text in request.items().items():
            for line in text.splitlines():
                if needle.lower() in line.lower():
                    return Answer(verdict={"findings": [{
                        "category": category, "severity": severity, "score": score, "explanation": explanation,
                        "item": number, "evidence": line.strip()[:200]}]})
        return CLEAN

    return script


class JudgeServer:
    """``count_tokens`` gives the usage the server reports (default: a quarter of the characters)."""

    def __init__(self, count_tokens: Callable[[str], int] | None = None) -> None:
        self.count_tokens = count_tokens or (lambda text: max(1, len(text) // 4))
        self.requests: list[JudgeRequest] = []
        self._answers: list[Answer] = [CLEAN]
        self._script: Callable[[JudgeRequest], Answer] | None = None
        self._lock = threading.Lock()
        server = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                request = JudgeRequest(self.path, {k.lower(): v for k, v in self.headers.items()},
                                       json.loads(self.body()))
                answer = server._answer(request)
                if answer.delay:
                    time.sleep(answer.delay)
                status, body = _response(request, answer, server.count_tokens)
                data = json.dumps(body).encode()
                try:
                    self.send_response(status)
                    for key, value in answer.headers.items():
                        self.send_header(key, value)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass

        self._server = LoopbackServer(Handler)

    @property
    def url(self) -> str:
        return self._server.url

    def endpoint(self, api: str) -> str:
        """The base URL each SDK is given (the OpenAI SDK appends /chat/completions, anthropic /v1/messages)."""
        return f"{self.url}/v1" if api == "openai" else self.url

    def serve(self, *answers: Answer) -> None:
        with self._lock:
            self._answers = list(answers) or [CLEAN]
            self._script = None
            self.requests.clear()

    def answer_with(self, script: Callable[[JudgeRequest], Answer]) -> None:
        with self._lock:
            self._script = script
            self.requests.clear()

    def _answer(self, request: JudgeRequest) -> Answer:
        with self._lock:
            self.requests.append(request)
            if self._script is not None:
                return self._script(request)
            return self._answers.pop(0) if len(self._answers) > 1 else self._answers[0]

    def close(self) -> None:
        self._server.close()


def _response(request: JudgeRequest, answer: Answer, _tokens: Callable[[str], int]) -> tuple[int, dict[str, Any]]:
    if answer.status != 200:
        if answer.error is not None:
            return answer.status, dict(answer.error)
        if request.api == "anthropic":
            return answer.status, {"type": "error", "error": {"type": "rate_limit_error" if answer.status == 429
                                                              else "api_error", "message": "scripted error"}}
        return answer.status, {"error": {"message": "scripted error", "type": "scripted", "code": None}}
    text = answer.text if answer.text is not None else json.dumps(answer.verdict)
    model = request.body.get("model", "judge")
    tokens_in = _tokens(request.system + request.user)
    if request.api == "anthropic":
        tools = request.body.get("tools") or []
        if answer.verdict is not None and request.body.get("tool_choice") and tools:
            content: list[dict[str, Any]] = [{"type": "tool_use", "id": "toolu_01", "name": tools[0]["name"],
                                              "input": answer.verdict}]
            stop = "tool_use"
        else:
            content = [{"type": "text", "text": text}]
            stop = "end_turn"
        return 200, {"id": "msg_judge01", "type": "message", "role": "assistant", "model": model,
                     "content": content, "stop_reason": stop, "stop_sequence": None,
                     "usage": {"input_tokens": tokens_in, "output_tokens": _tokens(text)}}
    return 200, {"id": "chatcmpl-judge01", "object": "chat.completion", "created": 0, "model": model,
                 "choices": [{"index": 0, "message": {"role": "assistant", "content": text, "refusal": None},
                              "finish_reason": "stop", "logprobs": None}],
                 "usage": {"prompt_tokens": tokens_in, "completion_tokens": _tokens(text),
                           "total_tokens": tokens_in + _tokens(text)}}
