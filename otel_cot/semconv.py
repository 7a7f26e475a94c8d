"""Every attribute, event and span name otel-cot emits, in one place.

GenAI names come from the OpenTelemetry semantic conventions package (its incubating
``gen_ai_attributes`` module is the source of truth); our own extension names live under
``cot.`` and are defined here only.
"""

from __future__ import annotations

from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as _gen_ai
from opentelemetry.semconv.attributes import error_attributes as _error
from opentelemetry.semconv.attributes import server_attributes as _server

TRACER_NAME = "otel_cot"
"""The instrumentation scope of every span otel-cot writes."""

# --- GenAI semantic conventions -------------------------------------------------------
GEN_AI_OPERATION_NAME = _gen_ai.GEN_AI_OPERATION_NAME
GEN_AI_PROVIDER_NAME = _gen_ai.GEN_AI_PROVIDER_NAME
GEN_AI_REQUEST_MODEL = _gen_ai.GEN_AI_REQUEST_MODEL
GEN_AI_REQUEST_MAX_TOKENS = _gen_ai.GEN_AI_REQUEST_MAX_TOKENS
GEN_AI_REQUEST_TEMPERATURE = _gen_ai.GEN_AI_REQUEST_TEMPERATURE
GEN_AI_REQUEST_TOP_P = _gen_ai.GEN_AI_REQUEST_TOP_P
GEN_AI_REQUEST_TOP_K = _gen_ai.GEN_AI_REQUEST_TOP_K
GEN_AI_REQUEST_STOP_SEQUENCES = _gen_ai.GEN_AI_REQUEST_STOP_SEQUENCES
GEN_AI_REQUEST_FREQUENCY_PENALTY = _gen_ai.GEN_AI_REQUEST_FREQUENCY_PENALTY
GEN_AI_REQUEST_PRESENCE_PENALTY = _gen_ai.GEN_AI_REQUEST_PRESENCE_PENALTY
GEN_AI_REQUEST_SEED = _gen_ai.GEN_AI_REQUEST_SEED
GEN_AI_REQUEST_CHOICE_COUNT = _gen_ai.GEN_AI_REQUEST_CHOICE_COUNT
GEN_AI_REQUEST_STREAM = _gen_ai.GEN_AI_REQUEST_STREAM
GEN_AI_RESPONSE_ID = _gen_ai.GEN_AI_RESPONSE_ID
GEN_AI_RESPONSE_MODEL = _gen_ai.GEN_AI_RESPONSE_MODEL
GEN_AI_RESPONSE_FINISH_REASONS = _gen_ai.GEN_AI_RESPONSE_FINISH_REASONS
GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK = _gen_ai.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK
GEN_AI_USAGE_INPUT_TOKENS = _gen_ai.GEN_AI_USAGE_INPUT_TOKENS
GEN_AI_USAGE_OUTPUT_TOKENS = _gen_ai.GEN_AI_USAGE_OUTPUT_TOKENS
GEN_AI_USAGE_REASONING_OUTPUT_TOKENS = _gen_ai.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS
GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS = _gen_ai.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS
GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS = _gen_ai.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS
GEN_AI_INPUT_MESSAGES = _gen_ai.GEN_AI_INPUT_MESSAGES
GEN_AI_OUTPUT_MESSAGES = _gen_ai.GEN_AI_OUTPUT_MESSAGES
GEN_AI_SYSTEM_INSTRUCTIONS = _gen_ai.GEN_AI_SYSTEM_INSTRUCTIONS
GEN_AI_TOOL_DEFINITIONS = _gen_ai.GEN_AI_TOOL_DEFINITIONS
GEN_AI_OUTPUT_TYPE = _gen_ai.GEN_AI_OUTPUT_TYPE
GEN_AI_CONVERSATION_ID = _gen_ai.GEN_AI_CONVERSATION_ID
GEN_AI_AGENT_NAME = _gen_ai.GEN_AI_AGENT_NAME
GEN_AI_AGENT_DESCRIPTION = _gen_ai.GEN_AI_AGENT_DESCRIPTION
GEN_AI_AGENT_ID = _gen_ai.GEN_AI_AGENT_ID
GEN_AI_WORKFLOW_NAME = _gen_ai.GEN_AI_WORKFLOW_NAME
GEN_AI_TOOL_NAME = _gen_ai.GEN_AI_TOOL_NAME
GEN_AI_TOOL_CALL_ID = _gen_ai.GEN_AI_TOOL_CALL_ID
GEN_AI_TOOL_CALL_ARGUMENTS = _gen_ai.GEN_AI_TOOL_CALL_ARGUMENTS
GEN_AI_TOOL_CALL_RESULT = _gen_ai.GEN_AI_TOOL_CALL_RESULT
GEN_AI_TOOL_TYPE = _gen_ai.GEN_AI_TOOL_TYPE
GEN_AI_TOOL_DESCRIPTION = _gen_ai.GEN_AI_TOOL_DESCRIPTION
GEN_AI_EVALUATION_NAME = _gen_ai.GEN_AI_EVALUATION_NAME
GEN_AI_EVALUATION_SCORE_VALUE = _gen_ai.GEN_AI_EVALUATION_SCORE_VALUE
GEN_AI_EVALUATION_SCORE_LABEL = _gen_ai.GEN_AI_EVALUATION_SCORE_LABEL
GEN_AI_EVALUATION_EXPLANATION = _gen_ai.GEN_AI_EVALUATION_EXPLANATION
GEN_AI_EVALUATION_RESULT_EVENT = "gen_ai.evaluation.result"

ERROR_TYPE = _error.ERROR_TYPE
SERVER_ADDRESS = _server.SERVER_ADDRESS
SERVER_PORT = _server.SERVER_PORT
# MCP: the names of the semconv package's incubating mcp_attributes, spelt out so older packages still import.
MCP_METHOD_NAME = "mcp.method.name"
MCP_PROTOCOL_VERSION = "mcp.protocol.version"

# Well-known values.
OPERATION_CHAT = "chat"
OPERATION_GENERATE_CONTENT = "generate_content"
OPERATION_EXECUTE_TOOL = "execute_tool"
OPERATION_INVOKE_AGENT = "invoke_agent"
OPERATION_INVOKE_WORKFLOW = "invoke_workflow"

# --- otel-cot extensions (cot.*) -----------------------------------------------------
# Reasoning span.
COT_REASONING_CONTENT = "cot.reasoning.content"
COT_REASONING_SOURCE = "cot.reasoning.source"
COT_REASONING_REDACTED = "cot.reasoning.redacted"
COT_REASONING_TRUNCATED = "cot.reasoning.truncated"
COT_REASONING_INDEX = "cot.reasoning.index"
COT_REASONING_LENGTH = "cot.reasoning.length"

# Model-call span: a captured message part was cut to the size limit, or a secret was redacted.
COT_CONTENT_TRUNCATED = "cot.content.truncated"
COT_CONTENT_REDACTED_SECRETS = "cot.content.redacted_secrets"
COT_REASONING_COUNT = "cot.reasoning.count"
# How a streamed call ended: complete, closed (by the caller, early), abandoned (garbage-collected), error.
COT_STREAM_OUTCOME = "cot.stream.outcome"

# MCP tool spans: the server's name from its initialize result (no semconv attribute names an MCP server).
COT_MCP_SERVER_NAME = "cot.mcp.server.name"

# One agent handing the conversation to another (OpenAI Agents SDK): an event on the agent span that handed off.
COT_AGENT_HANDOFF_EVENT = "cot.agent.handoff"
COT_HANDOFF_FROM_AGENT = "cot.handoff.from_agent"
COT_HANDOFF_TO_AGENT = "cot.handoff.to_agent"

# Spans the collector makes from coding agents' log events (Claude Code, Codex, Gemini CLI).
COT_AGENT_EVENT = "cot.agent.event"
COT_AGENT_PROMPT_ID = "cot.agent.prompt_id"
COT_AGENT_USER_PROMPT = "cot.agent.user_prompt"
COT_AGENT_OUTPUT_TEXT = "cot.agent.output_text"
# Spans the session readers make from coding agents' session files (otel-cot watch).
COT_AGENT_COMPACTION = "cot.agent.compaction"  # the model call's input starts with a compaction summary
COT_AGENT_TOOL_RESULT_MISSING = "cot.agent.tool_result_missing"  # the file had no result when the span was made

# Findings (written by the detector engine).
COT_FLAGGED = "cot.flagged"
COT_FINDING_CATEGORIES = "cot.finding.categories"
COT_FINDING_MAX_SEVERITY = "cot.finding.max_severity"
COT_FINDING_CATEGORY = "cot.finding.category"
COT_FINDING_SEVERITY = "cot.finding.severity"
COT_FINDING_DETECTOR = "cot.finding.detector"
COT_FINDING_DETECTOR_VERSION = "cot.finding.detector_version"
COT_FINDING_EVIDENCE = "cot.finding.evidence"
COT_FINDING_EVIDENCE_LOCATION = "cot.finding.evidence_location"
COT_FINDING_RELATED_SPAN_ID = "cot.finding.related_span_id"
COT_FINDING_MECHANISM = "cot.finding.mechanism"
COT_FINDING_SPAN_NAME = "cot.finding"

# The model-based monitor (cot.monitor): on each of its findings' gen_ai.evaluation.result events.
COT_MONITOR_JUDGE_MODEL = "cot.monitor.judge.model"  # the judge model that answered
COT_MONITOR_JUDGE_PROVIDER = "cot.monitor.judge.provider"  # openai (Chat Completions API) | anthropic (Messages)
COT_MONITOR_PROMPT_VERSION = "cot.monitor.prompt.version"  # the prompt file's version (e.g. v1)
COT_MONITOR_TRIGGER = "cot.monitor.trigger"  # why the trace was judged: flagged | every_trace | sampled
COT_MONITOR_CONFIRMS_RULE = "cot.monitor.confirms_rule"  # judged because a rule flagged it: same category?

# Runtime guard (otel_cot.guard): its decision about a tool call, on the tool span.
COT_GUARD_DECISION = "cot.guard.decision"  # allowed | blocked | asked-allowed | asked-denied
COT_GUARD_ACTION = "cot.guard.action"  # the policy action that applied: log | ask | block
COT_GUARD_RULE = "cot.guard.rule"  # the policy rule (or allow-list entry, or on_error) that decided
COT_GUARD_DURATION_MS = "cot.guard.duration_ms"
COT_GUARD_FINDING_COUNT = "cot.guard.finding_count"
COT_GUARD_FINDING_CATEGORY = "cot.guard.finding.category"
COT_GUARD_FINDING_SEVERITY = "cot.guard.finding.severity"
COT_GUARD_FINDING_DETECTOR = "cot.guard.finding.detector"
COT_GUARD_FINDING_EXPLANATION = "cot.guard.finding.explanation"
COT_GUARD_FINDING_EVIDENCE = "cot.guard.finding.evidence"
COT_GUARD_ERROR = "cot.guard.error"  # the guard failed or overran; on_error decided
COT_GUARD_DECISION_EVENT = "cot.guard.decision"  # with no tool span: the decision as an event
# Metric (the collector's findings counter, per category / severity / service.name).
COT_FINDINGS_METRIC = "cot.findings"

# Reasoning sources (values of cot.reasoning.source).
SOURCE_ANTHROPIC_THINKING = "anthropic.thinking"
SOURCE_ANTHROPIC_REDACTED_THINKING = "anthropic.redacted_thinking"
SOURCE_OPENAI_SUMMARY = "openai.summary"
SOURCE_OPENAI_REASONING_TEXT = "openai.reasoning_text"
SOURCE_OPENAI_ENCRYPTED = "openai.encrypted"
SOURCE_REASONING_CONTENT = "reasoning_content"
SOURCE_REASONING_FIELD = "reasoning"
SOURCE_REASONING_DETAILS = "reasoning_details"
SOURCE_THINK_TAG = "think_tag"
SOURCE_GEMINI_THOUGHT = "gemini.thought"

# Span names.
REASONING_SPAN_PREFIX = "reasoning"


def model_span_name(operation: str, model: str | None) -> str:
    return f"{operation} {model}" if model else operation


def reasoning_span_name(model: str | None) -> str:
    return f"{REASONING_SPAN_PREFIX} {model}" if model else REASONING_SPAN_PREFIX
