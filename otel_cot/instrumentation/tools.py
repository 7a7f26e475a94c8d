"""Tool and agent spans: ``@tool``, ``agent()``, and the ``ToolCall`` / ``AgentRun`` lifecycles that the
MCP and Agents SDK integrations share.

    @otel_cot.tool
    def run_tests(path: str) -> str: ...

    with otel_cot.agent("fixer", conversation_id=session_id):
        ...  # model calls and tool calls here are children of `invoke_agent fixer`
"""

from __future__ import annotations

import functools
import inspect
from typing import Any, Callable, Mapping, TypeVar, overload

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Link, SpanKind, Status, StatusCode, Tracer

from .. import config
from .. import semconv as sc
from .._version import __version__
from ..config import Settings
from ..content import ContentBudget, clean_value, to_json
from ..guard.decision import ToolCallBlocked
from ..internal_errors import report_internal_error
from ..runtime import runtime
from ..values import plain
from . import guard_hooks
from ._context import detach, traced, traced_async

F = TypeVar("F", bound=Callable[..., Any])

_MAX_GENERATOR_ITEMS = 100


_provider_tracer: tuple[Any, Tracer] | None = None
"""The last provider ``_tracer()`` served and its tracer."""


def _tracer() -> Tracer:
    """The tracer of the provider ``init()`` was given or made (where the model-call spans go too), else of the
    global provider (a proxy: it follows the global provider even if it is set after import)."""
    global _provider_tracer
    provider = runtime.provider
    if provider is None:
        return trace.get_tracer(sc.TRACER_NAME, __version__)
    cached = _provider_tracer
    if cached is None or cached[0] is not provider:
        cached = _provider_tracer = (provider, provider.get_tracer(sc.TRACER_NAME, __version__))
    return cached[1]


def _serialise(value: Any, budget: ContentBudget) -> str:
    if isinstance(value, str):
        return budget(value)
    return to_json(clean_value(plain(value), budget))


class ToolCall:
    """One ``execute_tool {name}`` span: started on construction, ended once by ``finish`` or ``fail``.

    When the model asked for this call (a pending tool call with the same name in this trace),
    the span takes its ``gen_ai.tool.call.id`` and links to the model-call span.
    """

    __slots__ = ("span", "_settings", "_ended", "_budget")

    def __init__(self, name: str, *, call_id: str | None = None, arguments: Any = None,
                 tool_type: str = "function", description: str | None = None,
                 attributes: Mapping[str, Any] | None = None, tracer: Tracer | None = None,
                 settings: Settings | None = None, parent: otel_context.Context | None = None,
                 kind: SpanKind = SpanKind.INTERNAL, claim: bool = True, span_name: str | None = None) -> None:
        self._settings = settings or config.current()
        self._ended = False
        self._budget = ContentBudget(self._settings)
        links = []
        # `claim=False` for the executing side of a remote call (an MCP server): the model's call
        # belongs to the caller's span.
        claimed = runtime.pending.claim(name) if call_id is None and claim else None
        if claimed is not None:
            call_id = claimed.call_id
            links.append(Link(claimed.model_span))
            if claimed.rootless and parent is None:
                parent = trace.set_span_in_context(trace.NonRecordingSpan(claimed.model_span))
        span_attributes: dict[str, Any] = {
            sc.GEN_AI_OPERATION_NAME: sc.OPERATION_EXECUTE_TOOL,
            sc.GEN_AI_TOOL_NAME: name,
            sc.GEN_AI_TOOL_TYPE: tool_type,
        }
        if call_id:
            span_attributes[sc.GEN_AI_TOOL_CALL_ID] = call_id
        if description:
            span_attributes[sc.GEN_AI_TOOL_DESCRIPTION] = description
        if arguments is not None and self._settings.capture_content:
            span_attributes[sc.GEN_AI_TOOL_CALL_ARGUMENTS] = _serialise(arguments, self._budget)
        if attributes:
            span_attributes.update(attributes)
        self.span = (tracer or _tracer()).start_span(
            span_name or f"{sc.OPERATION_EXECUTE_TOOL} {name}", context=parent, kind=kind,
            attributes=span_attributes, links=links)

    @property
    def call_id(self) -> str | None:
        value = (getattr(self.span, "attributes", None) or {}).get(sc.GEN_AI_TOOL_CALL_ID)
        return value if isinstance(value, str) else None

    def activate(self) -> object:
        return otel_context.attach(trace.set_span_in_context(self.span))

    def set_arguments(self, arguments: Any) -> None:
        """For arguments known only after the span started (the Agents SDK records them while the tool runs)."""
        if arguments is not None and not self._ended and self._settings.capture_content:
            self.span.set_attribute(sc.GEN_AI_TOOL_CALL_ARGUMENTS, _serialise(arguments, self._budget))

    def finish(self, result: Any = None, *, is_error: bool = False) -> None:
        if self._ended:
            return
        self._ended = True
        try:
            if result is not None and self._settings.capture_content:
                self.span.set_attribute(sc.GEN_AI_TOOL_CALL_RESULT, _serialise(result, self._budget))
            if self._budget.truncated:
                self.span.set_attribute(sc.COT_CONTENT_TRUNCATED, True)
            if self._budget.redacted:
                self.span.set_attribute(sc.COT_CONTENT_REDACTED_SECRETS, self._budget.redacted)
            guard_hooks.observe_tool_result(self.span, result, is_error)
            if is_error:
                self.span.set_attribute(sc.ERROR_TYPE, "tool_error")
                self.span.set_status(Status(StatusCode.ERROR, "the tool reported an error"))
        except Exception as exc:
            report_internal_error("tool finish", exc)
        finally:
            self.span.end()

    def fail(self, error: BaseException) -> None:
        if self._ended:
            return
        try:
            self.span.set_attribute(sc.ERROR_TYPE, type(error).__qualname__)
            self.span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"[:1024]))
        except Exception as exc:
            report_internal_error("tool fail", exc)
        self.finish()


def _start_tool(name: str, description: str | None, tool_type: str, signature: inspect.Signature | None,
                args: tuple, kwargs: dict) -> tuple[ToolCall | None, object | None, Any]:
    arguments: Any = None
    try:
        if signature is not None:
            try:
                bound = signature.bind(*args, **kwargs)
                bound.apply_defaults()
            except TypeError:  # the call itself is wrong; the function will say so
                bound = signature.bind_partial(*args, **kwargs)
            arguments = {k: v for k, v in bound.arguments.items() if k not in ("self", "cls")}
        call = ToolCall(name, arguments=arguments, tool_type=tool_type, description=description)
        return call, call.activate(), arguments
    except Exception as exc:
        report_internal_error("tool start", exc)
        return None, None, arguments


def _end(call: ToolCall | None, result: Any = None, error: BaseException | None = None) -> None:
    if call is None:
        return
    try:
        if error is not None:
            call.fail(error)
        else:
            call.finish(result)
    except Exception as exc:
        report_internal_error("tool end", exc)


def _wrap_tool(func: Callable[..., Any], name: str, description: str | None, tool_type: str) -> Callable[..., Any]:
    try:
        signature: inspect.Signature | None = inspect.signature(func)
    except (TypeError, ValueError):
        signature = None

    def start(args: tuple, kwargs: dict) -> tuple[ToolCall | None, object | None]:
        call, token, arguments = _start_tool(name, description, tool_type, signature, args, kwargs)
        guard_hooks.guard_tool(call, token, name, arguments)  # a blocked call raises ToolCallBlocked, its span ended
        return call, token

    async def astart(args: tuple, kwargs: dict) -> tuple[ToolCall | None, object | None]:
        call, token, arguments = _start_tool(name, description, tool_type, signature, args, kwargs)
        await guard_hooks.aguard_tool(call, token, name, arguments)
        return call, token

    if inspect.isasyncgenfunction(func):
        @functools.wraps(func)
        async def async_gen_wrapper(*args: Any, **kwargs: Any) -> Any:
            call, token = await astart(args, kwargs)
            detach(token)  # a generator resumes in its consumer's context; do not leave ours attached
            items: list[Any] = []
            try:
                async for item in func(*args, **kwargs):
                    if len(items) < _MAX_GENERATOR_ITEMS:
                        items.append(item)
                    yield item
            except BaseException as exc:
                _end(call, error=exc)
                raise
            _end(call, items)
        return async_gen_wrapper

    if inspect.isgeneratorfunction(func):
        @functools.wraps(func)
        def gen_wrapper(*args: Any, **kwargs: Any) -> Any:
            call, token = start(args, kwargs)
            detach(token)  # a generator resumes in its consumer's context; do not leave ours attached
            items: list[Any] = []
            try:
                for item in func(*args, **kwargs):
                    if len(items) < _MAX_GENERATOR_ITEMS:
                        items.append(item)
                    yield item
            except BaseException as exc:
                _end(call, error=exc)
                raise
            _end(call, items)
        return gen_wrapper

    if inspect.iscoroutinefunction(func):
        @functools.wraps(func)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                call, token = await astart(args, kwargs)
            except ToolCallBlocked as blocked:
                return guard_hooks.blocked_tool_result(blocked)
            return await traced_async(lambda: func(*args, **kwargs), token, functools.partial(_end, call))
        return async_wrapper

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            call, token = start(args, kwargs)
        except ToolCallBlocked as blocked:
            return guard_hooks.blocked_tool_result(blocked)
        return traced(lambda: func(*args, **kwargs), token, functools.partial(_end, call))
    return wrapper


@overload
def tool(func: F) -> F: ...


@overload
def tool(*, name: str | None = None, description: str | None = None, tool_type: str = "function") -> Callable[[F], F]: ...


def tool(func: Any = None, *, name: str | None = None, description: str | None = None,
         tool_type: str = "function") -> Any:
    """Trace each run of a tool function as an ``execute_tool {name}`` span.

    Works on plain functions, coroutines, generators and async generators. Arguments and the
    result are captured with the same truncation and redaction as model content; an exception
    is recorded and re-raised unchanged. Name and description default to the function's name
    and the first line of its docstring.
    """

    def decorate(f: F) -> F:
        doc = inspect.getdoc(f)
        return _wrap_tool(f, name or f.__name__, description or (doc.splitlines()[0] if doc else None),
                          tool_type)  # type: ignore[return-value]

    return decorate(func) if func is not None else decorate


class AgentRun:
    """One ``invoke_agent {name}`` span that the model and tool spans inside it are children of."""

    __slots__ = ("span", "_token")

    def __init__(self, name: str, *, conversation_id: str | None = None, description: str | None = None,
                 attributes: Mapping[str, Any] | None = None, tracer: Tracer | None = None,
                 parent: otel_context.Context | None = None, start_time: int | None = None) -> None:
        span_attributes: dict[str, Any] = {sc.GEN_AI_OPERATION_NAME: sc.OPERATION_INVOKE_AGENT,
                                           sc.GEN_AI_AGENT_NAME: name}
        if conversation_id:
            span_attributes[sc.GEN_AI_CONVERSATION_ID] = conversation_id
        if description:
            span_attributes[sc.GEN_AI_AGENT_DESCRIPTION] = description
        if attributes:
            span_attributes.update(attributes)
        self.span = (tracer or _tracer()).start_span(f"{sc.OPERATION_INVOKE_AGENT} {name}", context=parent,
                                                     kind=SpanKind.INTERNAL, attributes=span_attributes,
                                                     start_time=start_time)
        self._token: object | None = None

    def activate(self) -> None:
        self._token = otel_context.attach(trace.set_span_in_context(self.span))

    def end(self, error: BaseException | None = None, end_time: int | None = None) -> None:
        detach(self._token)
        self._token = None
        if error is not None:
            self.span.set_attribute(sc.ERROR_TYPE, type(error).__qualname__)
            self.span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"[:1024]))
        self.span.end(end_time=end_time)


class agent:  # noqa: N801 - used like a function: `with otel_cot.agent("name"):`
    """``with otel_cot.agent("fixer", conversation_id=...):`` or ``@otel_cot.agent("fixer")``.

    Async too (``async with``, ``async def``). Re-entrant: each entry starts its own span.
    """

    def __init__(self, name: str, *, conversation_id: str | None = None, description: str | None = None,
                 attributes: Mapping[str, Any] | None = None) -> None:
        self.name = name
        self.conversation_id = conversation_id
        self.description = description
        self.attributes = dict(attributes or {})
        self._runs: list[AgentRun | None] = []

    def _enter(self) -> None:
        try:
            run: AgentRun | None = AgentRun(self.name, conversation_id=self.conversation_id,
                                            description=self.description, attributes=self.attributes)
            run.activate()
        except Exception as exc:
            report_internal_error("agent start", exc)
            run = None
        self._runs.append(run)

    def _exit(self, error: BaseException | None) -> None:
        run = self._runs.pop() if self._runs else None
        if run is not None:
            try:
                run.end(error)
            except Exception as exc:
                report_internal_error("agent end", exc)

    def __enter__(self) -> "agent":
        self._enter()
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        self._exit(exc)

    async def __aenter__(self) -> "agent":
        self._enter()
        return self

    async def __aexit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        self._exit(exc)

    def __call__(self, func: F) -> F:
        make = functools.partial(agent, self.name, conversation_id=self.conversation_id,
                                 description=self.description, attributes=self.attributes)
        if inspect.iscoroutinefunction(func):
            @functools.wraps(func)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                async with make():
                    return await func(*args, **kwargs)
            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with make():
                return func(*args, **kwargs)
        return wrapper  # type: ignore[return-value]
