"""The spans of a coding-agent session, from the readers' items: the same shapes the SDK writes (docs/spans.md).

One trace per session. Every id is derived from the session, never random, so reading a file twice (a
restart, a backfill) gives the same spans:

- trace id: the first 16 bytes of SHA-256 of ``"{agent}:{session}"`` — the trace the collector already puts
  the agent's OTLP log events in (docs/coding-agents.md), so both paths meet in one trace;
- span id: 8 bytes of SHA-256 of ``"{agent}:{session}|{kind}|{key}"``, ``key`` being the record's own id (a
  message id, a tool call id) or its position in the file.

Content is cleaned as the SDK cleans it (redaction before truncation, ``max_content_length``,
``capture_content``), by the SDK's own functions.
"""

from __future__ import annotations

import hashlib
from typing import Any, Sequence

from opentelemetry.sdk.resources import OTELResourceDetector, Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags

from otel_cot import semconv as sc
from otel_cot._version import __version__
from otel_cot.config import Settings
from otel_cot.content import ContentBudget, clean_value, to_json

from .model import CLAUDE_CODE, CODEX, GEMINI_CLI, ModelTurn, Scope, SubagentEnd, ToolRun

SCOPE_NAME = "otel_cot.coding_agents"
# The service names the agents' own OTLP exports use, so both paths show under one service in a backend.
SERVICE_NAMES = {CLAUDE_CODE: "claude-code", CODEX: "codex_cli_rs", GEMINI_CLI: "gemini-cli"}
_SAMPLED = TraceFlags(TraceFlags.SAMPLED)
_SCOPE = InstrumentationScope(SCOPE_NAME, __version__)


def trace_id(agent: str, session: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{agent}:{session}".encode()).digest()[:16], "big")


def span_id(agent: str, session: str, kind: str, key: str) -> int:
    value = int.from_bytes(hashlib.sha256(f"{agent}:{session}|{kind}|{key}".encode()).digest()[:8], "big")
    return value or 1


def _context(scope: Scope, sid: int) -> SpanContext:
    return SpanContext(trace_id(scope.agent, scope.session), sid, is_remote=False, trace_flags=_SAMPLED)


def root_span_id(scope: Scope) -> int:
    return span_id(scope.agent, scope.session, "session", "")


def agent_span_id(scope: Scope, agent_key: str) -> int:
    return span_id(scope.agent, scope.session, "agent", agent_key)


def turn_span_id(scope: Scope, turn_key: str) -> int:
    return span_id(scope.agent, scope.session, "chat", turn_key)


def tool_span_id(scope: Scope, call_id: str) -> int:
    return span_id(scope.agent, scope.session, "tool", call_id)


def reasoning_span_id(scope: Scope, turn_key: str, index: int) -> int:
    return span_id(scope.agent, scope.session, "reasoning", f"{turn_key}#{index}")


def _parent(scope: Scope, agent_key: str | None) -> SpanContext:
    key = agent_key or scope.agent_key
    return _context(scope, agent_span_id(scope, key) if key else root_span_id(scope))


def agent_resource(agent: str) -> Resource:
    """The resource of an agent's spans: its service name, plus ``OTEL_RESOURCE_ATTRIBUTES``."""
    return Resource({"service.name": SERVICE_NAMES.get(agent, agent)}).merge(OTELResourceDetector().detect())


class SpanBuilder:
    """Makes finished SDK spans (``ReadableSpan``) from the readers' items, with ``settings``' content rules."""

    def __init__(self, settings: Settings | None = None, resources: dict[str, Resource] | None = None) -> None:
        self.settings = settings or Settings.from_env()
        self._resources = dict(resources or {})

    def _resource(self, agent: str) -> Resource:
        resource = self._resources.get(agent)
        if resource is None:
            resource = self._resources[agent] = agent_resource(agent)
        return resource

    def _span(self, scope: Scope, sid: int, parent: SpanContext | None, name: str, kind: SpanKind,
              attributes: dict[str, Any], start_ns: int, end_ns: int, *, links: Sequence[Link] = (),
              status: Status | None = None) -> ReadableSpan:
        attributes[sc.GEN_AI_AGENT_NAME] = scope.agent
        attributes[sc.GEN_AI_CONVERSATION_ID] = scope.session
        return ReadableSpan(name=name, context=_context(scope, sid), parent=parent,
                            resource=self._resource(scope.agent), attributes=attributes, kind=kind,
                            links=tuple(links), status=status or Status(StatusCode.UNSET),
                            start_time=start_ns, end_time=max(end_ns, start_ns), instrumentation_scope=_SCOPE)

    # --- the session and its subagents -----------------------------------------------------------
    def root(self, scope: Scope, start_ns: int, end_ns: int, *, summary: str | None = None) -> ReadableSpan:
        """The file's ``invoke_agent`` span: the session's root, or a subagent file's span under that root."""
        name = scope.agent_name or scope.agent
        attributes: dict[str, Any] = {sc.GEN_AI_OPERATION_NAME: sc.OPERATION_INVOKE_AGENT}
        if summary and self.settings.capture_content:
            budget = ContentBudget(self.settings)
            attributes[sc.GEN_AI_AGENT_DESCRIPTION] = budget(summary)
            _content_flags(attributes, budget)
        if scope.agent_key:
            attributes[sc.GEN_AI_AGENT_ID] = scope.agent_key
            return self._span(scope, agent_span_id(scope, scope.agent_key), _context(scope, root_span_id(scope)),
                              f"invoke_agent {name}", SpanKind.INTERNAL, attributes, start_ns, end_ns)
        return self._span(scope, root_span_id(scope), None, f"invoke_agent {name}", SpanKind.INTERNAL,
                          attributes, start_ns, end_ns)

    def subagent(self, scope: Scope, end: SubagentEnd) -> ReadableSpan:
        attributes: dict[str, Any] = {sc.GEN_AI_OPERATION_NAME: sc.OPERATION_INVOKE_AGENT,
                                      sc.GEN_AI_AGENT_ID: end.agent_key}
        return self._span(scope, agent_span_id(scope, end.agent_key), _context(scope, root_span_id(scope)),
                          f"invoke_agent {end.name}", SpanKind.INTERNAL, attributes, end.start_ns, end.end_ns)

    # --- a model turn: chat span and its reasoning children ---------------------------------------
    def turn(self, scope: Scope, turn: ModelTurn) -> list[ReadableSpan]:
        settings, budget = self.settings, ContentBudget(self.settings)
        capture = settings.capture_content
        attributes: dict[str, Any] = {sc.GEN_AI_OPERATION_NAME: sc.OPERATION_CHAT,
                                      sc.GEN_AI_PROVIDER_NAME: turn.provider}
        if turn.model:
            attributes[sc.GEN_AI_REQUEST_MODEL] = turn.model
            attributes[sc.GEN_AI_RESPONSE_MODEL] = turn.model
        if turn.response_id:
            attributes[sc.GEN_AI_RESPONSE_ID] = turn.response_id
        if turn.finish_reason:
            attributes[sc.GEN_AI_RESPONSE_FINISH_REASONS] = [turn.finish_reason]
        usage = turn.usage
        for key, value in ((sc.GEN_AI_USAGE_INPUT_TOKENS, usage.input_tokens),
                           (sc.GEN_AI_USAGE_OUTPUT_TOKENS, usage.output_tokens),
                           (sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS, usage.reasoning_tokens),
                           (sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS, usage.cache_read_tokens),
                           (sc.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS, usage.cache_creation_tokens)):
            if isinstance(value, int) and not isinstance(value, bool):
                attributes[key] = value
        if capture and turn.input_messages:
            attributes[sc.GEN_AI_INPUT_MESSAGES] = to_json(clean_value(turn.input_messages, budget))
        if capture and turn.output_parts:
            message: dict[str, Any] = {"role": "assistant", "parts": turn.output_parts}
            if turn.finish_reason:
                message["finish_reason"] = turn.finish_reason
            attributes[sc.GEN_AI_OUTPUT_MESSAGES] = to_json(clean_value([message], budget))
        if turn.compaction:
            attributes[sc.COT_AGENT_COMPACTION] = True
        chat_id = turn_span_id(scope, turn.key)
        chat_context = _context(scope, chat_id)
        spans: list[ReadableSpan] = []
        model_name = turn.model
        for index, block in enumerate(turn.reasoning):
            r_attrs: dict[str, Any] = {sc.COT_REASONING_SOURCE: block.source, sc.COT_REASONING_INDEX: index,
                                       sc.COT_REASONING_REDACTED: block.redacted,
                                       sc.GEN_AI_PROVIDER_NAME: turn.provider}
            truncated = False
            if block.text:
                r_attrs[sc.COT_REASONING_LENGTH] = len(block.text)
                if capture:
                    cleaned = budget.clean(block.text)
                    r_attrs[sc.COT_REASONING_CONTENT] = cleaned.text
                    truncated = cleaned.truncated
            r_attrs[sc.COT_REASONING_TRUNCATED] = truncated
            start = block.start_ns or turn.start_ns
            spans.append(self._span(scope, reasoning_span_id(scope, turn.key, index), chat_context,
                                    sc.reasoning_span_name(model_name), SpanKind.INTERNAL, r_attrs, start,
                                    block.end_ns or turn.end_ns))
        if turn.reasoning:
            attributes[sc.COT_REASONING_COUNT] = len(turn.reasoning)
        _content_flags(attributes, budget)
        spans.insert(0, self._span(scope, chat_id, _parent(scope, turn.agent_key),
                                   sc.model_span_name(sc.OPERATION_CHAT, model_name), SpanKind.CLIENT, attributes,
                                   turn.start_ns, turn.end_ns))
        return spans

    # --- a tool call ---------------------------------------------------------------------------------
    def tool(self, scope: Scope, run: ToolRun) -> ReadableSpan:
        budget = ContentBudget(self.settings)
        attributes: dict[str, Any] = {sc.GEN_AI_OPERATION_NAME: sc.OPERATION_EXECUTE_TOOL,
                                      sc.GEN_AI_TOOL_NAME: run.name, sc.GEN_AI_TOOL_TYPE: "function",
                                      sc.GEN_AI_TOOL_CALL_ID: run.call_id}
        if self.settings.capture_content:
            if run.arguments is not None:
                attributes[sc.GEN_AI_TOOL_CALL_ARGUMENTS] = _serialise(run.arguments, budget)
            if run.result is not None:
                attributes[sc.GEN_AI_TOOL_CALL_RESULT] = _serialise(run.result, budget)
        status = None
        if run.error:
            attributes[sc.ERROR_TYPE] = "tool_error"
            status = Status(StatusCode.ERROR, "the tool reported an error")
        if not run.has_result:
            attributes[sc.COT_AGENT_TOOL_RESULT_MISSING] = True
        _content_flags(attributes, budget)
        links = [Link(_context(scope, turn_span_id(scope, run.turn_key)))] if run.turn_key else []
        return self._span(scope, tool_span_id(scope, run.call_id), _parent(scope, run.agent_key),
                          f"execute_tool {run.name}", SpanKind.INTERNAL, attributes, run.start_ns,
                          run.end_ns or run.start_ns, links=links, status=status)


def _serialise(value: Any, budget: ContentBudget) -> str:
    if isinstance(value, str):
        return budget(value)
    return to_json(clean_value(value, budget))


def _content_flags(attributes: dict[str, Any], budget: ContentBudget) -> None:
    if budget.truncated:
        attributes[sc.COT_CONTENT_TRUNCATED] = True
    if budget.redacted:
        attributes[sc.COT_CONTENT_REDACTED_SECRETS] = budget.redacted
