"""Our instrumentation never traces or judges the judge's own calls: the monitor calls its judge with
OpenTelemetry instrumentation suppressed, and our wrappers honour the suppression."""

from __future__ import annotations

import anthropic
import openai
import pytest
from opentelemetry.instrumentation.utils import suppress_instrumentation

from otel_cot.detectors.views import views_from_record
from otel_cot.monitor import Monitor

from ..support.judge_server import quoting
from .conftest import agent_records, monitor_config


@pytest.mark.parametrize("api", ["openai", "anthropic"])
def test_the_judges_calls_make_no_spans_with_the_instrumentors_on(judge, spans, api):
    judge.answer_with(quoting("special-case n == 3", "reward_hacking"))
    records = agent_records()
    views = [v for r in records for v in views_from_record(r)]
    spans.clear()
    outcome = Monitor(monitor_config(judge, api)).judge_views(records[0].trace_id, views)
    assert outcome.findings and len(judge.requests) == 1
    assert spans.all() == []  # neither our model-call span nor the anthropic SDK's own


def _direct_call(judge, api):
    if api == "openai":
        client = openai.OpenAI(base_url=judge.endpoint("openai"), api_key="k", max_retries=0)
        return client.chat.completions.create(model="judge-1", messages=[{"role": "user", "content": "hi"}])
    client = anthropic.Anthropic(base_url=judge.endpoint("anthropic"), api_key="k", max_retries=0)
    return client.messages.create(model="judge-1", max_tokens=16, messages=[{"role": "user", "content": "hi"}])


@pytest.mark.parametrize("api", ["openai", "anthropic"])
def test_our_wrappers_honour_suppress_instrumentation(judge, spans, api):
    _direct_call(judge, api)
    assert [s for s in spans.all() if s.instrumentation_scope.name == "otel_cot"]  # instrumented as usual
    spans.clear()
    with suppress_instrumentation():
        result = _direct_call(judge, api)
    assert result is not None
    assert not [s for s in spans.all() if s.instrumentation_scope.name == "otel_cot"]


@pytest.mark.parametrize("api", ["openai", "anthropic"])
async def test_async_and_streamed_calls_honour_it_too(judge, spans, api):
    with suppress_instrumentation():
        if api == "openai":
            client = openai.AsyncOpenAI(base_url=judge.endpoint("openai"), api_key="k", max_retries=0)
            await client.chat.completions.create(model="judge-1", messages=[{"role": "user", "content": "hi"}])
        else:
            client = anthropic.AsyncAnthropic(base_url=judge.endpoint("anthropic"), api_key="k", max_retries=0)
            await client.messages.create(model="judge-1", max_tokens=16, messages=[{"role": "user", "content": "x"}])
    assert not [s for s in spans.all() if s.instrumentation_scope.name == "otel_cot"]
