"""The guard as an OpenAI Agents SDK tool input guardrail.

The SDK runs a function tool's ``tool_input_guardrails`` after the model asked for the call and before
the tool runs, with the tool name, call id and raw arguments in ``data.context``. A blocked call becomes
``reject_content`` (the model gets the guard's message as the tool's output and the run goes on) or,
with ``on_block: raise``, ``raise_exception`` (the SDK raises ``ToolInputGuardrailTripwireTriggered``,
whose ``output.output_info`` is our ``Decision``).

``OpenAIAgentsInstrumentor`` runs it for every function tool while a guard is configured; add
``GUARDRAIL`` (``from otel_cot.instrumentation.openai_agents.guardrail import GUARDRAIL``) to a tool's
``tool_input_guardrails`` yourself to control its position among your own.
"""

from __future__ import annotations

from typing import Any

from agents.tool_guardrails import (
    ToolGuardrailFunctionOutput,
    ToolInputGuardrail,
    ToolInputGuardrailData,
    ToolInputGuardrailResult,
)

from ...guard.api import on_block
from ...runtime import runtime
from ..tool_check import acheck_tool_call


async def _otel_cot_guard(data: ToolInputGuardrailData) -> ToolGuardrailFunctionOutput:
    ctx = data.context
    decision = await acheck_tool_call(ctx.tool_name, ctx.tool_arguments, call_id=ctx.tool_call_id)
    if decision.allowed:
        return ToolGuardrailFunctionOutput.allow(output_info=decision)
    if on_block("agents") == "raise":
        return ToolGuardrailFunctionOutput.raise_exception(output_info=decision)
    return ToolGuardrailFunctionOutput.reject_content(decision.message, output_info=decision)


GUARDRAIL: ToolInputGuardrail[Any] = ToolInputGuardrail(guardrail_function=_otel_cot_guard, name="otel_cot_guard")


async def input_guardrails_wrapper(wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
    """Around the SDK's ``_execute_tool_input_guardrails``: ours first, then the tool's own, as the SDK would."""
    func_tool = kwargs.get("func_tool")
    if (runtime.guard is None or func_tool is None
            or GUARDRAIL in (getattr(func_tool, "tool_input_guardrails", None) or ())):
        return await wrapped(*args, **kwargs)
    from agents.exceptions import ToolInputGuardrailTripwireTriggered

    output = await GUARDRAIL.run(ToolInputGuardrailData(context=kwargs["tool_context"], agent=kwargs["agent"]))
    results = kwargs.get("tool_input_guardrail_results")
    if isinstance(results, list):
        results.append(ToolInputGuardrailResult(guardrail=GUARDRAIL, output=output))
    if output.behavior["type"] == "raise_exception":
        raise ToolInputGuardrailTripwireTriggered(guardrail=GUARDRAIL, output=output)
    if output.behavior["type"] == "reject_content":
        return output.behavior["message"]
    return await wrapped(*args, **kwargs)
