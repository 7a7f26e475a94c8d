"""Gemini ``generate_content``: request, response and stream chunks as plain values.

Parts with ``thought: true`` are reasoning: one block per contiguous run of them in a
candidate. ``thought_signature`` is opaque and never copied. Requests may hold SDK objects
or the plain dicts the SDK also accepts (snake_case or camelCase keys).
"""

from __future__ import annotations

from typing import Any, Mapping

from ... import semconv as sc
from ...values import as_int, get, numbers, plain, reasoning_part, text_part, tool_call_part, tool_response_part
from .._endpoint import endpoint_attributes
from .._model_call import Message, ModelRequest, ModelResponse, ReasoningBlock

_ROLES = {"model": "assistant"}


def _get(obj: Any, name: str) -> Any:
    value = get(obj, name)
    if value is None and isinstance(obj, Mapping) and "_" in name:
        head, *rest = name.split("_")
        value = obj.get(head + "".join(word.title() for word in rest))
    return value


def _modality(mime_type: Any) -> str | None:
    return mime_type.split("/", 1)[0] if isinstance(mime_type, str) and "/" in mime_type else None


def _media_part(kind: str, mime_type: Any, uri: Any = None) -> dict[str, Any]:
    part: dict[str, Any] = {"type": kind}
    if _modality(mime_type):
        part["modality"] = _modality(mime_type)
    if mime_type:
        part["mime_type"] = str(mime_type)
    if uri:
        part["uri"] = str(uri)
    return part


def _server_part(part: dict[str, Any]) -> dict[str, Any]:
    part["server"] = True
    return part


def part_of(part: Any) -> dict[str, Any] | None:
    """One Gemini part as a message part; None for an empty text (a bare thought signature) or an unknown part."""
    if isinstance(part, str):
        return text_part(part)
    text = _get(part, "text")
    if isinstance(text, str):
        if not text:
            return None
        return reasoning_part(text) if _get(part, "thought") else text_part(text)
    call = _get(part, "function_call")
    if call is not None:
        return tool_call_part(_get(call, "id"), _get(call, "name"), plain(_get(call, "args")))
    result = _get(part, "function_response")
    if result is not None:
        response = tool_response_part(_get(result, "id"), plain(_get(result, "response")))
        if _get(result, "name"):  # Gemini links responses to calls by name when there is no id
            response["name"] = _get(result, "name")
        return response
    code = _get(part, "executable_code")
    if code is not None:
        arguments = {"language": plain(_get(code, "language")), "code": _get(code, "code")}
        return _server_part(tool_call_part(_get(code, "id"), "code_execution", arguments))
    outcome = _get(part, "code_execution_result")
    if outcome is not None:
        response = {"outcome": plain(_get(outcome, "outcome")), "output": _get(outcome, "output")}
        return _server_part(tool_response_part(_get(outcome, "id"), response))
    server_call = _get(part, "tool_call")
    if server_call is not None:
        name = plain(_get(server_call, "tool_type"))
        return _server_part(tool_call_part(_get(server_call, "id"), name, plain(_get(server_call, "args"))))
    server_result = _get(part, "tool_response")
    if server_result is not None:
        return _server_part(tool_response_part(_get(server_result, "id"), plain(_get(server_result, "response"))))
    blob = _get(part, "inline_data")
    if blob is not None:  # the bytes are never copied
        return _media_part("blob", _get(blob, "mime_type"))
    data = _get(part, "file_data")
    if data is not None:
        return _media_part("uri", _get(data, "mime_type"), _get(data, "file_uri"))
    if _get(part, "uri") is not None:  # a types.File passed as content
        return _media_part("uri", _get(part, "mime_type"), _get(part, "uri"))
    return None


def _parts(parts: Any) -> list[dict[str, Any]]:
    out = []
    for part in parts or ():
        converted = part_of(part)
        if converted is not None:
            out.append(converted)
    return out


def _is_content(item: Any) -> bool:
    if isinstance(item, Mapping):
        return "parts" in item or "role" in item
    return hasattr(item, "parts") and hasattr(item, "role")


def _message(content: Any) -> Message:
    role = _get(content, "role") or "user"
    return {"role": _ROLES.get(role, role), "parts": _parts(_get(content, "parts"))}


def input_messages(contents: Any) -> list[Message]:
    """Contents as the SDK reads them: loose parts and strings in a row make one user message."""
    if contents is None:
        return []
    if isinstance(contents, str) or not isinstance(contents, (list, tuple)):
        contents = [contents]
    out: list[Message] = []
    loose: list[Any] = []
    for item in contents:
        if _is_content(item) or isinstance(item, (list, tuple)):
            if loose:
                out.append({"role": "user", "parts": _parts(loose)})
                loose = []
            out.append(_message(item) if _is_content(item) else {"role": "user", "parts": _parts(item)})
        else:
            loose.append(item)
    if loose:
        out.append({"role": "user", "parts": _parts(loose)})
    return out


def _system(instruction: Any) -> list[dict[str, Any]] | None:
    if not instruction:
        return None
    if _is_content(instruction):
        return _parts(_get(instruction, "parts")) or None
    if isinstance(instruction, (list, tuple)):
        return _parts(instruction) or None
    return _parts([instruction]) or None


def _tool_definition(tool: Any) -> Any:
    if isinstance(tool, Mapping) or hasattr(tool, "model_dump"):
        return plain(tool)
    if callable(tool):  # a Python function the SDK calls itself (automatic function calling)
        definition: dict[str, Any] = {"type": "function", "name": getattr(tool, "__name__", type(tool).__name__)}
        doc = (getattr(tool, "__doc__", None) or "").strip()
        if doc:
            definition["description"] = doc
        return definition
    return {"type": type(tool).__name__}  # an MCP session: its tools are only known once listed


def _config_attributes(config: Any) -> dict[str, Any]:
    attributes = numbers((key, _get(config, name)) for key, name in (
        (sc.GEN_AI_REQUEST_MAX_TOKENS, "max_output_tokens"),
        (sc.GEN_AI_REQUEST_SEED, "seed"),
        (sc.GEN_AI_REQUEST_TEMPERATURE, "temperature"),
        (sc.GEN_AI_REQUEST_TOP_P, "top_p"),
        (sc.GEN_AI_REQUEST_TOP_K, "top_k"),
        (sc.GEN_AI_REQUEST_FREQUENCY_PENALTY, "frequency_penalty"),
        (sc.GEN_AI_REQUEST_PRESENCE_PENALTY, "presence_penalty"),
    ))
    count = as_int(_get(config, "candidate_count"))
    if count and count != 1:
        attributes[sc.GEN_AI_REQUEST_CHOICE_COUNT] = count
    stop = _get(config, "stop_sequences")
    if isinstance(stop, (list, tuple)) and stop:
        attributes[sc.GEN_AI_REQUEST_STOP_SEQUENCES] = [str(s) for s in stop]
    mime_type = _get(config, "response_mime_type")
    if mime_type == "application/json":
        attributes[sc.GEN_AI_OUTPUT_TYPE] = "json"
    elif mime_type == "text/plain":
        attributes[sc.GEN_AI_OUTPUT_TYPE] = "text"
    return attributes


def _client(instance: Any) -> tuple[str | None, bool]:
    """The base URL of a ``Models`` / ``AsyncModels`` resource, and whether it talks to Vertex AI."""
    api_client = getattr(instance, "_api_client", None)
    base_url = getattr(getattr(api_client, "_http_options", None), "base_url", None)
    return (str(base_url) if base_url else None), bool(getattr(api_client, "vertexai", False))


def request(instance: Any, kwargs: dict[str, Any]) -> ModelRequest:
    base_url, vertexai = _client(instance)
    config = kwargs.get("config")
    attributes = endpoint_attributes(base_url)
    attributes.update(_config_attributes(config))
    tools = _get(config, "tools")
    model = kwargs.get("model")
    return ModelRequest(
        provider="gcp.vertex_ai" if vertexai else "gcp.gemini",
        model=model if isinstance(model, str) else None,
        attributes=attributes,
        input_messages=input_messages(kwargs.get("contents")),
        system_instructions=_system(_get(config, "system_instruction")),
        tool_definitions=[_tool_definition(t) for t in tools] if isinstance(tools, (list, tuple)) and tools else None,
        operation=sc.OPERATION_GENERATE_CONTENT,
    )


def stream_request(instance: Any, kwargs: dict[str, Any]) -> ModelRequest:
    out = request(instance, kwargs)
    out.stream = True
    return out


def _finish_reason(value: Any) -> str | None:
    value = getattr(value, "value", value)
    return str(value).lower() if value else None


def _usage(out: ModelResponse, usage: Any) -> None:
    if usage is None:
        return
    prompt = as_int(_get(usage, "prompt_token_count"))
    tool_prompt = as_int(_get(usage, "tool_use_prompt_token_count"))
    candidates = as_int(_get(usage, "candidates_token_count"))
    thoughts = as_int(_get(usage, "thoughts_token_count"))
    # The conventions count every input token in input_tokens and reasoning inside output_tokens;
    # Gemini reports tool-use prompts and thoughts apart (total = prompt + tool-use + candidates + thoughts).
    if prompt is not None or tool_prompt is not None:
        out.input_tokens = (prompt or 0) + (tool_prompt or 0)
    if candidates is not None or thoughts is not None:
        out.output_tokens = (candidates or 0) + (thoughts or 0)
    out.reasoning_tokens = thoughts
    out.cache_read_tokens = as_int(_get(usage, "cached_content_token_count"))


def _candidate(out: ModelResponse, parts: list[dict[str, Any]], reasoning: list[ReasoningBlock],
               finish: Any) -> None:
    message: Message = {"role": "assistant", "parts": parts}
    reason = _finish_reason(finish)
    if reason:
        message["finish_reason"] = reason
        out.finish_reasons.append(reason)
    out.output_messages.append(message)
    out.reasoning.extend(reasoning)


def _thought_runs(parts: list[dict[str, Any]]) -> list[str]:
    runs: list[list[str]] = []
    previous = None
    for part in parts:
        if part["type"] == "reasoning":
            if previous != "reasoning":
                runs.append([])
            runs[-1].append(part["content"])
        previous = part["type"]
    return ["".join(run) for run in runs]


def response(result: Any) -> ModelResponse | None:
    if not isinstance(result, Mapping) and not hasattr(result, "candidates"):
        return None
    out = ModelResponse(response_id=_get(result, "response_id"), response_model=_get(result, "model_version"))
    for candidate in _get(result, "candidates") or ():
        parts = _parts(_get(_get(candidate, "content"), "parts"))
        reasoning = [ReasoningBlock(text, sc.SOURCE_GEMINI_THOUGHT) for text in _thought_runs(parts)]
        _candidate(out, parts, reasoning, _get(candidate, "finish_reason"))
    _usage(out, _get(result, "usage_metadata"))
    return out


class _Segment:
    """A run of one candidate's output: text or reasoning deltas joined, or one other part."""

    __slots__ = ("kind", "texts", "part", "start_ns", "end_ns")

    def __init__(self, kind: str, now_ns: int, part: dict[str, Any] | None = None) -> None:
        self.kind = kind
        self.texts: list[str] = []
        self.part = part
        self.start_ns = now_ns
        self.end_ns = now_ns


class _CandidateState:
    __slots__ = ("segments", "finish")

    def __init__(self) -> None:
        self.segments: list[_Segment] = []
        self.finish: Any = None

    def add(self, part: dict[str, Any], now_ns: int) -> None:
        kind = part["type"]
        last = self.segments[-1] if self.segments else None
        if kind in ("text", "reasoning"):
            if last is None or last.kind != kind:
                last = _Segment(kind, now_ns)
                self.segments.append(last)
            last.texts.append(part["content"])
            last.end_ns = now_ns
        else:
            self.segments.append(_Segment(kind, now_ns, part))


class GenerateContentStreamAccumulator:
    """Accumulates streamed ``GenerateContentResponse`` chunks.

    Each chunk carries the usage so far (cumulative), so the last one wins; text and thought
    parts are deltas, joined per contiguous run.
    """

    __slots__ = ("_id", "_model", "_candidates", "_usage")

    def __init__(self) -> None:
        self._id: str | None = None
        self._model: str | None = None
        self._candidates: dict[int, _CandidateState] = {}
        self._usage: Any = None

    def add(self, chunk: Any, now_ns: int) -> None:
        self._id = self._id or _get(chunk, "response_id")
        self._model = self._model or _get(chunk, "model_version")
        usage = _get(chunk, "usage_metadata")
        if usage is not None:
            self._usage = usage
        for position, candidate in enumerate(_get(chunk, "candidates") or ()):
            index = as_int(_get(candidate, "index"))
            state = self._candidates.setdefault(position if index is None else index, _CandidateState())
            for part in _parts(_get(_get(candidate, "content"), "parts")):
                state.add(part, now_ns)
            if _get(candidate, "finish_reason"):
                state.finish = _get(candidate, "finish_reason")

    def result(self) -> ModelResponse:
        out = ModelResponse(response_id=self._id, response_model=self._model)
        for index in sorted(self._candidates):
            state = self._candidates[index]
            parts: list[dict[str, Any]] = []
            reasoning: list[ReasoningBlock] = []
            for segment in state.segments:
                if segment.part is not None:
                    parts.append(segment.part)
                    continue
                text = "".join(segment.texts)
                if segment.kind == "reasoning":
                    parts.append(reasoning_part(text))
                    reasoning.append(ReasoningBlock(text or None, sc.SOURCE_GEMINI_THOUGHT,
                                                    start_ns=segment.start_ns, end_ns=segment.end_ns))
                else:
                    parts.append(text_part(text))
            _candidate(out, parts, reasoning, state.finish)
        _usage(out, self._usage)
        return out
