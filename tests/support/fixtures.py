"""The recorded provider fixtures copied into tests/fixtures/providers (see its README for sources)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "providers"


def index() -> list[dict[str, Any]]:
    return json.loads((FIXTURES / "index.json").read_text())


def load(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())


def fixture_names(*apis: str) -> list[str]:
    return [entry["file"] for entry in index() if entry["api"] in apis]


def is_beta(fx: dict[str, Any]) -> bool:
    return dict(parse_qsl(urlsplit(fx["request"]["path"]).query)).get("beta") == "true"


def openai_base_url(fx: dict[str, Any], server_url: str) -> str:
    path = urlsplit(fx["request"]["path"]).path
    suffix = "/chat/completions" if fx["api"] == "chat.completions" else "/responses"
    return server_url + path[: -len(suffix)]


TOOL_STEP = "anthropic/messages-nostream--resume_with_override_thinking_and_tools__google_gemini_2_5_flash--mirascope.json"


def agent_tool_step(thinking: str, tool: str, tool_input: dict[str, Any]) -> dict[str, Any]:
    """A recorded Anthropic tool-use exchange (thinking block, text, tool_use, usage) edited into an agent
    step: the provider's shape is the recording's; the thinking text and the tool call are the caller's,
    for behaviour no public recording shows (an agent force-pushing, special-casing a test input)."""
    fx = copy.deepcopy(load(TOOL_STEP))
    block, _text, tool_use = fx["response"]["body"]["content"]
    block["thinking"] = thinking
    tool_use["name"] = tool
    tool_use["input"] = tool_input
    fx["request"]["body"]["tools"][0]["name"] = tool
    return fx
