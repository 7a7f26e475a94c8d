"""The recorded provider fixtures copied into tests/fixtures/providers (see its README for sources)."""

from __future__ import annotations

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
