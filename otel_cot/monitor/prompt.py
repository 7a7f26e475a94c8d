"""Judge prompts are data: versioned files in ``otel_cot/monitor/prompts/`` (or a file of your own).

A prompt file is Markdown with a front matter (``version``, ``schema``: the verdict's JSON schema file
next to it) and three sections: ``## system`` (the judge's instructions), ``## user`` (the request, with
``{window}``, ``{categories}`` and ``{omitted}`` filled in) and ``## retry`` (appended to the request
when an answer could not be used, with ``{problem}``). Nothing else in a section is interpreted, so
JSON examples may use braces freely.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from importlib import resources
from typing import Any, Sequence

from ..config import ConfigurationError
from .window import Window

_SECTION = re.compile(r"^## (system|user|retry)\s*$", re.MULTILINE)
_NAME = re.compile(r"^v\d+$")


@dataclass(frozen=True)
class Prompt:
    version: str
    system: str
    user: str
    retry: str
    schema: dict[str, Any]

    def request(self, window: Window, categories: Sequence[str]) -> str:
        omitted = (f"({window.omitted} items of this trace are not shown; the trace was too long.)\n"
                   if window.omitted else "")
        return (self.user.replace("{categories}", ", ".join(categories))
                .replace("{omitted}", omitted)
                .replace("{window}", window.text))

    def retry_request(self, request: str, problem: str) -> str:
        return request + "\n\n" + self.retry.replace("{problem}", problem)


def _front_matter(text: str, source: str) -> tuple[dict[str, str], str]:
    if not text.startswith("---\n"):
        raise ConfigurationError(f"{source}: a prompt file starts with a '---' front matter (version, schema)")
    end = text.find("\n---", 4)
    if end < 0:
        raise ConfigurationError(f"{source}: the front matter is not closed with '---'")
    meta = {}
    for line in text[4:end].splitlines():
        if line.strip():
            key, _, value = line.partition(":")
            meta[key.strip()] = value.strip()
    return meta, text[end + 4:]


def parse_prompt(text: str, schema_text: str, source: str = "prompt") -> Prompt:
    meta, body = _front_matter(text, source)
    parts = _SECTION.split(body)
    sections = {parts[i]: parts[i + 1].strip() for i in range(1, len(parts) - 1, 2)}
    for name in ("system", "user", "retry"):
        if not sections.get(name):
            raise ConfigurationError(f"{source}: the '## {name}' section is missing or empty")
    if "{window}" not in sections["user"]:
        raise ConfigurationError(f"{source}: the '## user' section must contain {{window}}")
    if not meta.get("version"):
        raise ConfigurationError(f"{source}: the front matter has no version")
    try:
        schema = json.loads(schema_text)
    except ValueError as exc:
        raise ConfigurationError(f"{source}: its verdict schema is not JSON ({exc})") from None
    return Prompt(meta["version"], sections["system"], sections["user"], sections["retry"], schema)


def load_prompt(name: str = "v1") -> Prompt:
    """A packaged prompt by version (``"v1"``), or a prompt file by path (its schema file next to it)."""
    if _NAME.match(name):
        folder = resources.files("otel_cot.monitor") / "prompts"
        source = folder / f"{name}.md"
        if not source.is_file():
            raise ConfigurationError(f"prompt {name!r}: no such packaged prompt")
        text = source.read_text(encoding="utf-8")
        meta, _ = _front_matter(text, f"prompt {name}")
        schema = (folder / meta.get("schema", "verdict.schema.json")).read_text(encoding="utf-8")
        return parse_prompt(text, schema, f"prompt {name}")
    try:
        with open(name, encoding="utf-8") as fh:
            text = fh.read()
        meta, _ = _front_matter(text, name)
        schema_path = os.path.join(os.path.dirname(os.path.abspath(name)), meta.get("schema", "verdict.schema.json"))
        with open(schema_path, encoding="utf-8") as fh:
            schema = fh.read()
    except OSError as exc:
        raise ConfigurationError(f"prompt {name}: cannot read ({exc.strerror or exc})") from None
    return parse_prompt(text, schema, name)
