"""What the judge reads: a window of one trace, bounded in tokens.

A window lists the trace's items in the order they happened — the task (user input), the agent's
reasoning, its tool calls and their results, its answers — each numbered so the judge can point at one.
When the whole trace does not fit in ``max_tokens``, items are kept by priority and long ones are cut:

1. the task (the first user message) and the final claims (the answers after the last action);
2. every action (tool call), the most recent first;
3. the reasoning nearest an action or a final claim (the plan that the action carries out), nearest first;
4. later user messages and intermediate answers;
5. tool results, nearest the next action first (what the agent reacted to);
6. system instructions.

A first pass gives each item a small share, in that order, until the budget is spent; a second pass
grows them to their full share in the same order. Cut reasoning keeps mostly its end (where the plan
is); other cut text keeps mostly its start. Items left out are marked in place. Tokens are estimated
(:func:`estimate_tokens`), not counted with a model's tokenizer; the bound holds for the estimate.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Iterable, Sequence

from ..detectors.base import (
    KIND_MODEL_CALL,
    KIND_REASONING,
    KIND_SYSTEM,
    KIND_TOOL_CALL,
    KIND_TOOL_RESULT,
    KIND_USER,
    SpanView,
)
from ..detectors.views import dedupe_key

_PIECE = re.compile(r"\w{1,6}|[^\w\s]{1,2}")
_SAMPLE = 262_144
HEADER_TOKENS = 10  # "=== [12] tool call: bash ===" (a longer tool name is counted on top)


def estimate_tokens(text: str) -> int:
    """Roughly the tokens a BPE tokenizer makes of ``text``: one per word piece of up to six letters or
    digits and one per one or two punctuation marks. Texts over 256 KiB are estimated from their start."""
    if len(text) <= _SAMPLE:
        return len(_PIECE.findall(text))
    sample = len(_PIECE.findall(text, 0, _SAMPLE))
    return int(sample * len(text) / _SAMPLE)


# Roles of window items (how an item is labelled for the judge and where it ranks).
TASK = "task"
FINAL = "final answer"
ACTION = "tool call"
REASONING = "reasoning"
USER = "user"
ANSWER = "assistant"
RESULT = "tool result"
SYSTEM = "system"

_TIER = {TASK: 0, FINAL: 0, ACTION: 1, REASONING: 2, USER: 3, ANSWER: 3, RESULT: 4, SYSTEM: 5}
# (smallest share worth showing, largest share) in tokens; the task and final claims scale with the budget.
_SHARE = {ACTION: (120, 600), REASONING: (150, 2000), USER: (100, 600), ANSWER: (80, 400),
          RESULT: (60, 500), SYSTEM: (60, 400)}
_TAIL_SHARE = {REASONING: 0.75}  # cut reasoning keeps its end; everything else keeps mostly its start
_ROLE_OF_KIND = {KIND_USER: USER, KIND_SYSTEM: SYSTEM, KIND_REASONING: REASONING, KIND_TOOL_CALL: ACTION,
                 KIND_TOOL_RESULT: RESULT, KIND_MODEL_CALL: ANSWER}


@dataclass(frozen=True)
class WindowItem:
    """One numbered item as the judge saw it (``text`` may be cut; ``cut`` characters were left out)."""

    number: int
    role: str
    view: SpanView
    text: str
    cut: int = 0

    @property
    def label(self) -> str:
        tool = f": {self.view.tool}" if self.view.tool and self.role in (ACTION, RESULT) else ""
        return f"[{self.number}] {self.role}{tool}"


@dataclass(frozen=True)
class Window:
    trace_id: str
    items: tuple[WindowItem, ...]
    text: str
    tokens: int
    omitted: int
    """Items of the trace that are not in the window."""

    @property
    def key(self) -> str:
        """The window's content hash (what the verdict cache is keyed by, with the judge and prompt)."""
        return hashlib.sha256(self.text.encode("utf-8", "surrogatepass")).hexdigest()

    def has(self, *roles: str) -> bool:
        return any(item.role in roles for item in self.items)

    @property
    def judgeable(self) -> bool:
        """Something the agent thought, did or claimed is in it (a trace of user input alone is not judged)."""
        return self.has(REASONING, ACTION, FINAL, ANSWER)

    def item(self, number: int) -> WindowItem | None:
        if 1 <= number <= len(self.items) and self.items[number - 1].number == number:
            return self.items[number - 1]
        return next((i for i in self.items if i.number == number), None)

    def locate(self, quote: str, number: int | None = None) -> WindowItem | None:
        """The item whose shown text contains ``quote`` (whitespace-insensitive): item ``number`` if it does,
        else the last item that does; None when the quote is not in the window."""
        needle = normalise_quote(quote)
        if not needle:
            return None
        preferred = self.item(number) if number is not None else None
        if preferred is not None and needle in _flat(preferred.text):
            return preferred
        for item in reversed(self.items):
            if needle in _flat(item.text):
                return item
        return None


def _flat(text: str) -> str:
    return " ".join(text.split())


def normalise_quote(quote: str) -> str:
    """A quote as compared with the window: whitespace collapsed, surrounding quotes and ellipses dropped."""
    q = _flat(quote).strip().strip("\"'`“”‘’").strip()
    q = re.sub(r"^(?:\.\.\.|…)\s*|\s*(?:\.\.\.|…)$", "", q)
    return q.strip()


@dataclass
class _Entry:
    role: str
    view: SpanView
    tokens: int
    order: int
    rank: tuple
    header: int = HEADER_TOKENS
    given: int = 0


def _entries(views: Iterable[SpanView]) -> list[_Entry]:
    seen: set[str] = set()
    entries: list[_Entry] = []
    for view in views:
        if not (view.text or view.tool):
            continue
        key = dedupe_key(view)
        if key is not None:
            if key in seen:
                continue
            seen.add(key)
        role = _ROLE_OF_KIND.get(view.kind)
        if role is None:
            continue
        header = HEADER_TOKENS + (estimate_tokens(view.tool) if view.tool else 0)
        entries.append(_Entry(role, view, estimate_tokens(_body(view)) + header, len(entries), (), header=header))
    first_user = next((e for e in entries if e.role == USER), None)
    if first_user is not None:
        # The task leads the window even when a span that ended earlier (a model call's reasoning span
        # ends before the call whose input carried the task) filed something before it.
        first_user.role = TASK
        entries.remove(first_user)
        entries.insert(0, first_user)
        for order, e in enumerate(entries):
            e.order = order
    last_action = max((e.order for e in entries if e.role == ACTION), default=-1)
    for e in entries:
        if e.role == ANSWER and e.order > last_action:
            e.role = FINAL
    _rank(entries)
    return entries


def _rank(entries: list[_Entry]) -> None:
    """Priority: tier, then distance to the next action or final claim (reasoning and results), then
    recency."""
    next_anchor = len(entries) * 2
    distance = [0] * len(entries)
    for e in reversed(entries):
        if e.role in (ACTION, FINAL):
            next_anchor = e.order
        distance[e.order] = next_anchor - e.order
    for e in entries:
        near = distance[e.order] if e.role in (REASONING, RESULT) else 0
        e.rank = (_TIER[e.role], near, -e.order)


def _body(view: SpanView) -> str:
    if view.kind == KIND_TOOL_CALL:
        return view.arguments if view.arguments is not None else view.text
    return view.text


def _cut(text: str, keep_chars: int, tail_share: float) -> str:
    if keep_chars >= len(text):
        return text
    tail = int(keep_chars * tail_share)
    head = keep_chars - tail
    removed = len(text) - keep_chars
    return f"{text[:head]}\n…[{removed} characters cut]…\n{text[len(text) - tail:] if tail else ''}"


def build_window(views: Sequence[SpanView] | Iterable[SpanView], max_tokens: int = 12_000,
                 trace_id: str = "") -> Window:
    """The window of a trace's views (in the order they happened), at most about ``max_tokens`` tokens."""
    entries = _entries(views)
    if not trace_id and entries:
        trace_id = entries[0].view.trace_id
    if sum(e.tokens for e in entries) <= max_tokens:
        for e in entries:
            e.given = e.tokens
        window = _render(trace_id, entries)
        if window.tokens <= max_tokens:
            return window
    budget = max_tokens
    for _ in range(4):  # the markers of cuts and gaps are not known before rendering: shrink and retry
        for e in entries:
            e.given = 0
        _allot(entries, budget)
        window = _render(trace_id, entries)
        if window.tokens <= max_tokens:
            return window
        budget -= window.tokens - max_tokens + max_tokens // 100
    return window


def _render(trace_id: str, entries: list[_Entry]) -> Window:
    items: list[WindowItem] = []
    lines: list[str] = []
    omitted = 0
    gap = 0
    for e in entries:
        if e.given <= 0:
            omitted += 1
            gap += 1
            continue
        if gap:
            lines.append(f"[… {gap} item{'s' if gap > 1 else ''} not shown …]")
            gap = 0
        body = _body(e.view)
        text = body
        if e.given < e.tokens:
            content_tokens = max(e.tokens - e.header, 1)
            keep = int(len(body) * max(e.given - e.header, 1) / content_tokens)
            text = _cut(body, keep, _TAIL_SHARE.get(e.role, 0.3))
        item = WindowItem(len(items) + 1, e.role, e.view, text, max(0, len(body) - len(text)) if text != body else 0)
        items.append(item)
        error = f" (error: {e.view.error})" if e.view.error and e.role == RESULT else ""
        lines.append(f"=== {item.label}{error} ===\n{text}")
    if gap:
        lines.append(f"[… {gap} item{'s' if gap > 1 else ''} not shown …]")
    rendered = "\n".join(lines)
    return Window(trace_id, tuple(items), rendered, estimate_tokens(rendered), omitted)


def _allot(entries: list[_Entry], budget: int) -> None:
    by_rank = sorted(entries, key=lambda e: e.rank)
    share = dict(_SHARE)
    share[TASK] = (min(400, budget // 8), max(400, budget // 4))
    share[FINAL] = (min(300, budget // 10), max(300, budget // 6))
    left = budget
    for e in by_rank:  # first pass: a small share each, most important first
        want = min(e.tokens, share[e.role][0] + e.header)
        if want <= left:
            e.given = want
            left -= want
    for e in by_rank:  # second pass: grow to the full share with what is left
        if e.given <= 0 or left <= 0:
            continue
        want = min(e.tokens, share[e.role][1] + e.header) - e.given
        if want > 0:
            grant = min(want, left)
            e.given += grant
            left -= grant
