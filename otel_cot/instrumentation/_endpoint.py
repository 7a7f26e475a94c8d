"""Where a call goes: server address/port and, for OpenAI-compatible servers, which provider."""

from __future__ import annotations

from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from .. import semconv as sc

# Hosts of OpenAI-compatible providers, by suffix, to gen_ai.provider.name values (the
# semantic conventions' well-known names where they have one).
_PROVIDER_HOSTS = (
    ("deepseek.com", "deepseek"),
    ("groq.com", "groq"),
    ("openrouter.ai", "openrouter"),
    ("x.ai", "x_ai"),
    ("mistral.ai", "mistral_ai"),
    ("perplexity.ai", "perplexity"),
    ("openai.azure.com", "azure.ai.openai"),
    ("together.xyz", "together_ai"),
    ("fireworks.ai", "fireworks_ai"),
    ("cerebras.ai", "cerebras"),
    ("huggingface.co", "huggingface"),
    ("z.ai", "zai"),
    ("bigmodel.cn", "zai"),
    ("generativelanguage.googleapis.com", "gcp.gemini"),
    ("moonshot.ai", "moonshot"),
)


# The text of a client's base URL, by the URL object's identity: building it costs ~1 µs per call (the
# openai client), and an httpx URL object never changes (a client given a new base URL holds a new object).
# Each entry keeps its URL object alive, so its id cannot be reused while the entry is here.
_URL_TEXT: dict[int, tuple[Any, str]] = {}
_URL_TEXT_MAX = 256
_IMMUTABLE_URL_MODULES = ("httpx", "httpx2")


def base_url_of(resource: Any) -> str | None:
    client = getattr(resource, "_client", None)
    url = getattr(client, "base_url", None)
    if url is None:
        return None
    entry = _URL_TEXT.get(id(url))
    if entry is not None and entry[0] is url:
        return entry[1]
    text = str(url)
    if type(url).__module__ in _IMMUTABLE_URL_MODULES:
        if len(_URL_TEXT) >= _URL_TEXT_MAX:
            _URL_TEXT.clear()
        _URL_TEXT[id(url)] = (url, text)
    return text


def endpoint_attributes(base_url: str | None) -> dict[str, Any]:
    if not base_url:
        return {}
    return dict(_endpoint_attributes(base_url))


@lru_cache(maxsize=256)
def _endpoint_attributes(base_url: str) -> dict[str, Any]:
    """Parsed once per base URL (a client's never changes); callers get a copy."""
    try:
        parts = urlsplit(base_url)
        attributes: dict[str, Any] = {}
        if parts.hostname:
            attributes[sc.SERVER_ADDRESS] = parts.hostname
        port = parts.port or (443 if parts.scheme == "https" else 80 if parts.scheme == "http" else None)
        if port:
            attributes[sc.SERVER_PORT] = port
        return attributes
    except ValueError:
        return {}


def provider_for(base_url: str | None, default: str) -> str:
    return _provider_for(base_url, default)


@lru_cache(maxsize=256)
def _provider_for(base_url: str | None, default: str) -> str:
    host = (urlsplit(base_url).hostname or "") if base_url else ""
    if "ollama" in host:
        return "ollama"
    for suffix, provider in _PROVIDER_HOSTS:
        if host == suffix or host.endswith("." + suffix):
            return provider
    return default
