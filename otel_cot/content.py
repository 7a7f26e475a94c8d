"""Content capture: size limits, secret redaction, ``<think>`` tag parsing.

Every text that reaches a span goes through :func:`clean` first: secrets are redacted
*before* truncation (so a cut can never leave half a key behind), then the value is cut
to the configured length. Structured values (messages, tool arguments and results, tool
definitions) go through :func:`clean_value`, which cleans each string in them, and
:func:`to_json` / :func:`static_json` turn them into attribute text.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from . import secrets
from .config import Settings
from .values import plain

TRUNCATION_MARK = "…[truncated]"


@dataclass(slots=True)
class CleanText:
    text: str
    truncated: bool = False
    redacted: int = 0


def clean(text: str, settings: Settings, *, checked: bool = False) -> CleanText:
    """``checked``: ``secrets.may_contain_secret(text)`` is known true (see ``secrets.redact``)."""
    redacted = 0
    if settings.redact_secrets and text:
        text, redacted = secrets.redact(text, checked=checked)
    return _cut(text, settings.max_content_length, redacted)


def _cut(text: str, limit: int, redacted: int = 0) -> CleanText:
    if len(text) > limit:
        return CleanText(text[:limit] + TRUNCATION_MARK, True, redacted)
    return CleanText(text, False, redacted)


# No credential pattern matches fewer characters than this ("token=abcd" is the shortest shape).
_MIN_SECRET_TEXT = 8


class ContentBudget:
    """Cleans the values of one span and remembers whether any was cut or redacted.

    Results are memoised per text: the same reasoning appears in the output messages and in
    its reasoning span, and role/type strings repeat in every message. The texts the secret
    scan's first stage found nothing in are remembered too, for :meth:`clean_joined`.
    """

    __slots__ = ("settings", "truncated", "redacted", "_seen", "_clear")

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.truncated = False
        self.redacted = 0
        self._seen: dict[str, CleanText] = {}
        self._clear: set[str] = set()

    def clean(self, text: str) -> CleanText:
        result = self._seen.get(text)
        if result is None:
            if len(text) < _MIN_SECRET_TEXT and len(text) <= self.settings.max_content_length:
                return CleanText(text)
            result = self._seen[text] = self._clean(text)
        self.truncated |= result.truncated
        self.redacted += result.redacted
        return result

    def _clean(self, text: str) -> CleanText:
        settings = self.settings
        if settings.redact_secrets:
            if secrets.may_contain_secret(text):
                return clean(text, settings, checked=True)
            self._clear.add(text)
        return _cut(text, settings.max_content_length)

    def clean_joined(self, parts: list[str], separator: str) -> CleanText:
        """``self.clean(separator.join(parts))``, without scanning the join for secrets again when the separator
        is line breaks and the scan found nothing in any part: no secret pattern spans a line break
        (``secrets.may_contain_secret``). Responses reasoning summaries: the parts go in the output messages,
        their join in the reasoning span."""
        text = separator.join(parts)
        if (text not in self._seen and self.settings.redact_secrets and separator and not separator.strip("\n")
                and all(part in self._clear for part in parts)):
            self._clear.add(text)
            self._seen[text] = _cut(text, self.settings.max_content_length)
        return self.clean(text)

    def __call__(self, text: str) -> str:
        return self.clean(text).text

    def text(self, text: str) -> str:
        """``self(text)``, without building a result for the short texts that need no cleaning."""
        if len(text) < _MIN_SECRET_TEXT and len(text) <= self.settings.max_content_length:
            return text
        return self.clean(text).text


# --- structured values ------------------------------------------------------------------
# Message and schema fields that name things rather than carry content: not scanned for secrets.
STRUCTURAL_KEYS = frozenset({"type", "role", "id", "name", "finish_reason", "modality", "call_id", "tool_use_id"})
STRUCTURAL_MAX = 256


_SCALARS = frozenset({int, float, bool, type(None)})


def clean_value(value: Any, budget: ContentBudget, depth: int = 0) -> Any:
    """A JSON-able copy of ``value`` with every string cleaned (redacted, truncated).

    Plain ``str`` / ``dict`` / ``list`` values (what the extractors build) are handled inline and
    copied only where a string changed: with nothing to redact or cut, the value itself comes back
    (it is only serialised, never kept or changed). Anything else (subclasses, tuples, SDK objects)
    takes the generic path, which always copies.
    """
    kind = type(value)
    if kind is str:
        return budget.text(value)
    if kind in _SCALARS:
        return value
    if depth > 8:
        return budget.text(value) if isinstance(value, str) else value
    if kind is dict:
        out = None
        text = budget.text
        for k, v in value.items():
            kv = type(v)
            if kv is str:
                if k in STRUCTURAL_KEYS and len(v) <= STRUCTURAL_MAX:
                    continue
                cleaned = text(v)
            elif kv in _SCALARS:
                continue
            else:
                cleaned = clean_value(v, budget, depth + 1)
            if cleaned is not v:
                if out is None:
                    out = dict(value)
                out[k] = cleaned
        return value if out is None else out
    if kind is list:
        out_list = None
        text = budget.text
        for i, v in enumerate(value):
            kv = type(v)
            if kv is str:
                cleaned = text(v)
            elif kv in _SCALARS:
                continue
            else:
                cleaned = clean_value(v, budget, depth + 1)
            if cleaned is not v:
                if out_list is None:
                    out_list = list(value)
                out_list[i] = cleaned
        return value if out_list is None else out_list
    return clean_value_generic(value, budget, depth)


def clean_value_generic(value: Any, budget: ContentBudget, depth: int) -> Any:
    if isinstance(value, str):
        return budget(value)
    if value is None or isinstance(value, (bool, int, float)) or depth > 8:
        return value
    if isinstance(value, dict):
        return {k: v if k in STRUCTURAL_KEYS and type(v) is str and len(v) <= STRUCTURAL_MAX
                else clean_value(v, budget, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean_value(v, budget, depth + 1) for v in value]
    return clean_value(plain(value), budget, depth + 1)


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=str)
_C_MAKE_ENCODER = getattr(json.encoder, "c_make_encoder", None)
_ENCODE_STRING = json.encoder.encode_basestring


def to_json(value: Any) -> str:
    """``json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)``.

    What ``_ENCODER.encode`` does for a dict or list, less its Python steps (a closure, the argument checks):
    the C encoder called directly, a new one per call (its dict of the containers being encoded, which finds
    circular values, belongs to one call).
    """
    if _C_MAKE_ENCODER is None or type(value) is str:
        return _ENCODER.encode(value)
    return "".join(_C_MAKE_ENCODER({}, str, _ENCODE_STRING, None, ":", ",", False, False, True)(value, 0))


# Tool definitions and system instructions: an agent sends the same ones with every call, and they
# can be large (tens of KB of tool schemas), so their cleaned JSON is kept across calls. The key is
# the value's own JSON from a strict encoder (plain JSON types only; anything else is cleaned as
# usual), which fixes everything the cleaning depends on: each string, each key, the structure.
_RAW_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_STATIC: dict[tuple[str, int, bool], tuple[str, bool, int]] = {}
_STATIC_MAX_ENTRIES = 64
_STATIC_MAX_CHARS = 1 << 20


def static_json(value: Any, budget: ContentBudget) -> str:
    """``to_json(clean_value(value, budget))``, remembered across calls for the same value and settings."""
    try:
        raw = _RAW_ENCODER.encode(value)
    except (TypeError, ValueError):  # SDK objects, circular data: no key
        return to_json(clean_value(value, budget))
    settings = budget.settings
    key = (raw, settings.max_content_length, settings.redact_secrets)
    hit = _STATIC.get(key)
    if hit is None:
        truncated, redacted = budget.truncated, budget.redacted
        budget.truncated, budget.redacted = False, 0
        try:
            text = to_json(clean_value(value, budget))
            hit = (text, budget.truncated, budget.redacted)
        finally:
            budget.truncated |= truncated
            budget.redacted += redacted
        if len(raw) <= _STATIC_MAX_CHARS:
            if len(_STATIC) >= _STATIC_MAX_ENTRIES:
                _STATIC.clear()
            _STATIC[key] = hit
        return hit[0]
    budget.truncated |= hit[1]
    budget.redacted += hit[2]
    return hit[0]


# --- <think> tags ---------------------------------------------------------------------
_OPEN = "<think>"
_CLOSE = "</think>"
_THINK_RE = re.compile(r"<think>(.*?)(?:</think>|\Z)", re.S)


def split_think(content: str) -> tuple[list[str], str]:
    """Split model output into its ``<think>`` blocks and the remaining answer text.

    Handles several blocks, an unterminated block (a stream cut short, or a length stop),
    and a closing tag with no opening one — chat templates such as Qwen3's and
    DeepSeek-R1's put ``<think>`` into the prompt, so the output starts inside the block.
    """
    if _CLOSE not in content and _OPEN not in content:
        return [], content
    blocks: list[str] = []
    rest = content
    close_at = rest.find(_CLOSE)
    open_at = rest.find(_OPEN)
    if close_at != -1 and (open_at == -1 or close_at < open_at):
        blocks.append(rest[:close_at])
        rest = rest[close_at + len(_CLOSE):]
    answer_parts: list[str] = []
    pos = 0
    for match in _THINK_RE.finditer(rest):
        answer_parts.append(rest[pos:match.start()])
        blocks.append(match.group(1))
        pos = match.end()
    answer_parts.append(rest[pos:])
    answer = "".join(answer_parts).strip() if blocks else content
    return [b.strip() for b in blocks if b.strip()], answer


class ThinkTagTracker:
    """Follows a streamed text and times the reasoning inside ``<think>`` blocks.

    Only the state needed to judge the next delta is kept; the full text is parsed with
    :func:`split_think` once the stream ends. ``first_ns``/``last_ns`` bound the chunks that
    carried reasoning (a block opened by the prompt template starts at the first chunk).
    """

    __slots__ = ("_tail", "_inside", "_seen", "_start_ns", "first_ns", "last_ns")

    def __init__(self) -> None:
        self._tail = ""
        self._inside = False
        self._seen = False
        self._start_ns: int | None = None
        self.first_ns: int | None = None
        self.last_ns: int | None = None

    def feed(self, delta: str, now_ns: int) -> None:
        if self._start_ns is None:
            self._start_ns = now_ns
        text = self._tail + delta
        touched = self._inside
        pos = 0
        while True:
            if self._inside:
                idx = text.find(_CLOSE, pos)
                if idx == -1:
                    break
                self._inside = False
                pos = idx + len(_CLOSE)
                continue
            idx = text.find(_OPEN, pos)
            close = text.find(_CLOSE, pos)
            if close != -1 and (idx == -1 or close < idx) and not self._seen:
                self._seen = touched = True
                if self.first_ns is None:
                    self.first_ns = self._start_ns
                pos = close + len(_CLOSE)
                continue
            if idx == -1:
                break
            self._inside = self._seen = touched = True
            pos = idx + len(_OPEN)
        if touched:
            if self.first_ns is None:
                self.first_ns = now_ns
            self.last_ns = now_ns
        self._tail = text[-(len(_CLOSE) - 1):]
