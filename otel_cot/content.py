"""Content capture: size limits, secret redaction, ``<think>`` tag parsing.

Every text that reaches a span goes through :func:`clean` first: secrets are redacted
*before* truncation (so a cut can never leave half a key behind), then the value is cut
to the configured length.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from . import secrets
from .config import Settings

TRUNCATION_MARK = "…[truncated]"


@dataclass(slots=True)
class CleanText:
    text: str
    truncated: bool = False
    redacted: int = 0


def clean(text: str, settings: Settings) -> CleanText:
    redacted = 0
    if settings.redact_secrets and text:
        text, redacted = secrets.redact(text)
    limit = settings.max_content_length
    if len(text) > limit:
        return CleanText(text[:limit] + TRUNCATION_MARK, True, redacted)
    return CleanText(text, False, redacted)


# No credential pattern matches fewer characters than this ("token=abcd" is the shortest shape).
_MIN_SECRET_TEXT = 8


class ContentBudget:
    """Cleans the values of one span and remembers whether any was cut or redacted.

    Results are memoised per text: the same reasoning appears in the output messages and in
    its reasoning span, and role/type strings repeat in every message.
    """

    __slots__ = ("settings", "truncated", "redacted", "_seen")

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.truncated = False
        self.redacted = 0
        self._seen: dict[str, CleanText] = {}

    def clean(self, text: str) -> CleanText:
        result = self._seen.get(text)
        if result is None:
            if len(text) < _MIN_SECRET_TEXT and len(text) <= self.settings.max_content_length:
                return CleanText(text)
            result = self._seen[text] = clean(text, self.settings)
        self.truncated |= result.truncated
        self.redacted += result.redacted
        return result

    def __call__(self, text: str) -> str:
        return self.clean(text).text

    def text(self, text: str) -> str:
        """``self(text)``, without building a result for the short texts that need no cleaning."""
        if len(text) < _MIN_SECRET_TEXT and len(text) <= self.settings.max_content_length:
            return text
        return self.clean(text).text


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
