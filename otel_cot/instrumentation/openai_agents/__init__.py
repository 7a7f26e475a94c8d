"""OpenAI Agents SDK (``openai-agents``): its traces and spans become otel-cot spans.

    import otel_cot
    otel_cot.init()   # then run agents as usual: Runner.run(agent, ...)

A tracing processor is added next to the SDK's own (its default exporter to the OpenAI
dashboard is the application's and is left as it is). Model calls keep the one ``chat``
span the OpenAI instrumentor makes, with its reasoning spans, nested under the agent.
"""

from __future__ import annotations

import logging
from typing import Any, Callable

from .._base import CotInstrumentor, Telemetry
from .package import _instruments

__all__ = ["OpenAIAgentsInstrumentor"]

logger = logging.getLogger("otel_cot")


class OpenAIAgentsInstrumentor(CotInstrumentor):
    _package = _instruments

    def _targets(self, telemetry: Telemetry) -> list[tuple[str, str, Callable[..., Any]]]:
        from .guardrail import input_guardrails_wrapper

        # The runtime guard as a tool input guardrail of every function tool (private in 0.24; skipped if absent).
        return [("agents.run_internal.tool_execution", "_execute_tool_input_guardrails", input_guardrails_wrapper)]

    def _instrument(self, **kwargs: Any) -> None:
        super()._instrument(**kwargs)
        from agents.tracing import add_trace_processor

        from .processor import CotTracingProcessor

        self._processor: Any = CotTracingProcessor(self._telemetry.tracer, self._telemetry.settings)
        add_trace_processor(self._processor)

    def _uninstrument(self, **kwargs: Any) -> None:
        super()._uninstrument(**kwargs)
        processor = getattr(self, "_processor", None)
        if processor is None:
            return
        processor.close()  # inert even if it cannot be taken out of the list below
        self._processor = None
        try:
            from agents.tracing import get_trace_provider, set_trace_processors

            # The SDK has no public way to read or remove one processor: rebuild the list without ours.
            current = get_trace_provider()._multi_processor._processors
            set_trace_processors([p for p in current if p is not processor])
        except Exception as exc:  # a custom TraceProvider: ours stays registered, disabled
            logger.debug("otel-cot: could not remove the Agents SDK trace processor (%s)", exc)
