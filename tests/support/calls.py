"""Call the public SDK method a fixture was recorded with, the way a user would, and summarise the result."""

from __future__ import annotations

import inspect
import json
import ssl
from typing import Any

from .fixtures import is_beta, openai_base_url


def kwargs_for(method: Any, body: dict[str, Any]) -> dict[str, Any]:
    params = inspect.signature(method).parameters
    kwargs: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for key, value in body.items():
        (kwargs if key in params else extra)[key] = value
    if extra:
        kwargs["extra_body"] = extra
    return kwargs


# One TLS context for every test client: without ``verify=`` each SDK client loads the CA bundle again (about
# 25 ms of CPU, a third of the replay tests' time), though every test talks plain HTTP to 127.0.0.1.
_TLS = ssl.create_default_context()


def http_client(sdk: Any, is_async: bool) -> Any:
    """The SDK's own default HTTP client (``sdk`` is the ``openai`` or ``anthropic`` module) on the shared TLS
    context."""
    return (sdk.DefaultAsyncHttpxClient if is_async else sdk.DefaultHttpxClient)(verify=_TLS)


def resource_for(fx: dict[str, Any], server_url: str, is_async: bool) -> Any:
    import anthropic
    import openai

    if fx["api"] == "messages":
        cls = anthropic.AsyncAnthropic if is_async else anthropic.Anthropic
        client = cls(api_key="test-key", base_url=server_url, max_retries=0,
                     http_client=http_client(anthropic, is_async))
        return client.beta.messages if is_beta(fx) else client.messages
    cls = openai.AsyncOpenAI if is_async else openai.OpenAI
    client = cls(api_key="test-key", base_url=openai_base_url(fx, server_url), max_retries=0,
                 http_client=http_client(openai, is_async))
    return client.chat.completions if fx["api"] == "chat.completions" else client.responses


def _event(e: Any) -> str:
    return type(e).__name__ + ":" + json.dumps(e.model_dump(mode="json", warnings=False), sort_keys=True)


def call_sync(fx: dict[str, Any], server_url: str) -> dict[str, Any]:
    resource = resource_for(fx, server_url, is_async=False)
    body = dict(fx["request"]["body"])
    try:
        out = resource.create(**kwargs_for(resource.create, body))
        if body.get("stream"):
            return {"ok": True, "type": type(out).__name__, "events": [_event(e) for e in out]}
        return {"ok": True, "type": type(out).__name__, "value": out.model_dump(mode="json", warnings=False)}
    except Exception as exc:
        return {"ok": False, "exc": type(exc).__name__, "status": getattr(exc, "status_code", None)}


async def call_async(fx: dict[str, Any], server_url: str) -> dict[str, Any]:
    resource = resource_for(fx, server_url, is_async=True)
    body = dict(fx["request"]["body"])
    try:
        out = await resource.create(**kwargs_for(resource.create, body))
        if body.get("stream"):
            return {"ok": True, "type": type(out).__name__, "events": [_event(e) async for e in out]}
        return {"ok": True, "type": type(out).__name__, "value": out.model_dump(mode="json", warnings=False)}
    except Exception as exc:
        return {"ok": False, "exc": type(exc).__name__, "status": getattr(exc, "status_code", None)}
