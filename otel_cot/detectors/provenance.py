"""Where data came from: instructions planted in tool results and the concrete values they carry.

Shared by the prompt-injection and destructive-action detectors. State lives in the trace context
(``ctx.memo["provenance"]``), updated at most once per view whichever detector asks first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterator

from otel_cot import textscan

from .base import KIND_TOOL_RESULT, SpanView, TraceContext, snippet

_VERBS = (r"send|forward|transfer|e-?mail|delete|remove|post|pay|share|invite|visit|go to|click|update|change|"
          r"create|book|reserve|write|say|tell|add|make|upload|download|run|execute|open|grant|give|concatenate")
_ADDRESSEE = (r"(?:ai|a\.i\.|assistant|agent|model|llm|chatbot|language model|gpt[\w\-.]*|claude[\w\-.]*|"
              r"gemini[\w\-.]*|llama[\w\-.]*)\b(?<!\.md)(?<!\.txt)(?<!\.json)(?<!\.yaml)(?<!\.yml)(?<!\.py)")
_MARKER_SOURCE = (
    r"ignore (?:all |any )?(?:of )?(?:your |the |my |these )?(?:previous|prior|above|earlier|preceding|former) "
    r"(?:instructions?|prompts?|directions?|rules|tasks?)"
    r"|disregard (?:all |any )?(?:of )?(?:your |the |my )?(?:previous|prior|above|earlier|other) "
    r"|forget (?:all |everything )?(?:your |the )?(?:previous|prior|above) "
    r"|(?:new|updated|important|urgent|additional) (?:instructions?|task)\s*[:!]"
    r"|(?:this|here) is an? (?:important|urgent|priority) (?:message|instruction|note|request)"
    r"|before (?:you )?(?:can |do |continue |proceed )?(?:solv|complet|continu|proceed|finish|answer|do)\w* "
    r"(?:with )?(?:the|your|this|my) (?:task|request|question|job)"
    r"|</?\s*(?:information|instructions?|system|important|admin|sys|prompt)\s*>"
    # text addressed to the model: "Dear AI", "Attention assistant", "To the AI:" (not "to AI output",
    # not "to CLAUDE.md")
    r"|\b(?:dear|attention|hey|hi|hello),? (?:the )?" + _ADDRESSEE +
    r"|\bto,? (?:the )?" + _ADDRESSEE + r"(?=\s*[,:!])"
    r"|\b(?:you|assistant|agent|ai) (?:must|should|need to|have to|are (?:required|instructed) to) "
    r"(?:now |first |immediately |also |instead )?(?:" + _VERBS + r")\b"
    r"|\btodo\s*:?\s+(?:please )?(?:" + _VERBS + r")\b"
    r"|\bimportant\s*!{2,}"
    r"|without (?:asking|telling|informing|notifying|confirming with) (?:me|the user|them|anyone)"
    r"|(?:do not|don't|never) (?:tell|inform|notify|ask|mention (?:this|it) to) (?:the user|me)"
)
# Markers are common in long tool results of attacked runs: ``re`` is tried only where the compiled
# matcher says one may start.
MARKERS = textscan.compile(_MARKER_SOURCE, re.IGNORECASE, positions=True)
# Without a compiled matcher: the pattern's literals are lower case, so on ASCII text lowered once (same
# length, same positions) it finds the same matches without IGNORECASE, about twice as fast.
_MARKERS_LOWER = re.compile(_MARKER_SOURCE)


def markers(text: str) -> Iterator[re.Match[str]]:
    """Instruction markers in ``text`` (match positions index ``text``)."""
    if MARKERS.positional() or not MARKERS.may_match(text):
        return MARKERS.finditer(text)
    if text.isascii():
        return _MARKERS_LOWER.finditer(text.lower())
    return MARKERS.regex.finditer(text)


_EMAIL = r"[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+"
_URL = r"(?:https?://|www\.)[^\s<>\"'`)\]]+|\b[\w\-]+(?:\.[\w\-]+)*\.(?:com|net|org|io|co|info|biz|xyz|ru|cn|app|dev|me|ly)\b(?:/[^\s<>\"'`)\]]*)?"
_IBAN = r"\b[A-Z]{2}\d{2}[A-Z0-9]{8,30}\b"
_PHONE = r"(?<![\w\-:])(?:\+\d[\d \-()]{7,}\d|\(\d{3}\)\s?\d{3}[\- ]\d{4}|\d{3}[\- ]\d{3}[\- ]\d{4})(?![\w\-:])"
_NUMBER = r"(?<![\w\-:.])\d{2,}(?![\w\-:]|\.\d)"
_TOKEN = r"\b(?=[\w\-]*[_\d])(?=[\w\-]*[A-Za-z])[A-Za-z_][\w\-]{5,}\b"
_QUOTED = r"'([^'\n]{2,60})'|\"([^\"\n]{2,60})\"|`([^`\n]{2,60})`"
_NAME = r"\b[A-Z][a-z]+(?: (?:[A-Z][a-z]+|&|of|de|la)){1,3}\b"
# Read around markers only; ``re`` is tried where one of these may start (names, numbers, quotes...).
# Nearly every text holds one, so it stays out of the whole-text scan.
ENTITY = textscan.compile(
    f"(?P<email>{_EMAIL})|(?P<url>{_URL})|(?P<iban>{_IBAN})|(?P<phone>{_PHONE})|(?P<num>{_NUMBER})"
    f"|{_QUOTED}|(?P<token>{_TOKEN})|(?P<name>{_NAME})",
    positions=True, rejects=False,
)
STRONG = {"email", "url", "iban", "phone"}
_STOP_NAMES = re.compile(r"^(?:Dear|Best|Kind|Thanks|Thank|Please|Signed|Hello|Hi|Regards|Best Regards|"
                         r"The|This|That|These|After|Before|Note|Important)\b")

SEGMENT_BEFORE = 300
SEGMENT_AFTER = 1200
_OPEN_TAG = re.compile(r"<\s*(\w+)\s*>")
_PARAGRAPH_END = re.compile(r"\n[ \t]*\n|(?:\\n){2}|\n(?=[ \t-]*[\w_]+:\s)")


def _segment(text: str, start: int, end: int) -> tuple[int, int]:
    """The instruction a marker belongs to: a pseudo-tag block, else the marker's paragraph."""
    tag = _OPEN_TAG.match(text, start)
    if tag:
        close = re.compile(rf"<\s*/\s*{re.escape(tag.group(1))}\s*>", re.IGNORECASE)
        m = close.search(text, end, min(len(text), end + 3000))
        if m:
            return start, m.end()
    lo = max(0, start - SEGMENT_BEFORE)
    for m in _PARAGRAPH_END.finditer(text, lo, start):
        lo = m.end()
    m = _PARAGRAPH_END.search(text, end, min(len(text), end + SEGMENT_AFTER))
    hi = m.start() if m else min(len(text), end + SEGMENT_AFTER)
    return lo, hi
MAX_ENTITIES = 200


@dataclass(frozen=True)
class Planted:
    value: str  # lowercase
    kind: str
    span_id: str
    evidence: str



_KEY = "provenance"


def planted(view: SpanView, ctx: TraceContext) -> list[Planted]:
    """Values carried by instructions found in tool results so far (including ``view``, if it is one)."""
    state = ctx.memo.get(_KEY)
    if state is None:  # (not setdefault: that would build the default on every call)
        state = ctx.memo[_KEY] = {"last": None, "planted": []}
    if view.kind == KIND_TOOL_RESULT and state["last"] is not view:
        state["last"] = view
        _remember(view, ctx, state["planted"])
    return state["planted"]


def _remember(view: SpanView, ctx: TraceContext, planted: list[Planted]) -> None:
    text = view.text
    if not text:
        return
    found = instructions(text)
    if not found:
        return
    trusted = None  # what the user and system said (read once a value is not known already)
    known = {p.value for p in planted}  # the planted values, for the duplicate check
    for start, end, values in found:
        evidence = None  # (the marker's snippet, made for its first planted value)
        for kind, lowered in values:
            # (two filters without side effects: the cheaper first)
            if lowered in known:
                continue
            if trusted is None:
                trusted = trusted_text(ctx)
            if _mentioned(lowered, trusted):
                continue
            if evidence is None:
                evidence = snippet(text, start, end, context=80)
            planted.append(Planted(lowered, kind, view.span_id, evidence))
            known.add(lowered)
        if len(planted) > MAX_ENTITIES:
            del planted[: len(planted) - MAX_ENTITIES]
            known = {p.value for p in planted}


# An injected instruction is read again and again: in later tool results of the same run, in other runs of
# the same task. What was read from it is remembered by text: whole tool results that may hold a marker,
# and, as the rest of a result often differs, the instruction segments themselves.
TEXTS = textscan.Memo(entries=256, chars=1 << 19)
SEGMENTS = textscan.Memo(entries=256, chars=1 << 19)

Instruction = tuple[int, int, tuple[tuple[str, str], ...]]  # marker start, marker end, segment_values


def instructions(text: str) -> tuple[Instruction, ...]:
    """The instructions in ``text``: for each marker that does not start inside the segment of the one
    before it (:func:`_segment`), its place and the useful values of its segment, in order."""
    if not MARKERS.may_match(text):
        return ()
    found = TEXTS.get(text)
    if found is not None:
        return found
    out = []
    covered = -1
    for marker in markers(text):
        start, end = marker.span()
        if start < covered:
            continue
        lo, covered = _segment(text, start, end)
        out.append((start, end, segment_values(text, lo, covered)))
    found = tuple(out)
    TEXTS.put(text, found, len(text))
    return found


def segment_values(text: str, lo: int, hi: int) -> tuple[tuple[str, str], ...]:
    """The useful values in ``text[lo:hi]`` (what :data:`ENTITY` finds from ``lo`` with the text cut at
    ``hi``), in order, as (planted kind, lowered value).

    They depend on the segment and on the one character before it (\\b and :data:`ENTITY`'s lookbehinds
    read no further back: ``tests/detectors/test_exact_rewrites.py`` checks the pattern's lookbehind
    widths), so that is what they are remembered under."""
    key = (text[lo - 1:hi] if lo else text[:hi], lo > 0)
    found = SEGMENTS.get(key)
    if found is not None:
        return found
    values = []
    for m in ENTITY.finditer(text, lo, hi):
        kind = m.lastgroup or "quoted"
        value = m[m.lastindex].strip().rstrip(".,;:!?")  # (each alternative is one group, never empty)
        if _useful(kind, value):
            values.append((kind if kind in STRONG or kind in ("num", "name", "token") else "value", value.lower()))
    found = tuple(values)
    SEGMENTS.put(key, found, hi - lo)
    return found


_LAST_TRUSTED: tuple[tuple[str, ...], tuple[str, ...], str] = ((), (), "")


def trusted_text(ctx: TraceContext) -> str:
    """What the user and the system said in the window, lowered: built again only when those messages
    changed since the last call (each tool result of an attacked run asks; the messages seldom change)."""
    global _LAST_TRUSTED
    users = tuple(ctx.user_texts)
    systems = tuple([v.text for v in reversed(ctx.views) if v.kind == "system"])  # ctx.recent("system")
    last = _LAST_TRUSTED
    if last[0] == users and last[1] == systems:
        return last[2]
    trusted = (ctx.user_text + "\n" + "\n".join(systems)).lower()
    _LAST_TRUSTED = (users, systems, trusted)
    return trusted


def _mentioned(value: str, trusted: str) -> bool:
    r"""``value`` occurs in ``trusted`` as a whole token: what ``(?<![\w.@-])value(?![\w@-]|\.\w)`` finds,
    by substring search (a regex per value would be compiled for every new value)."""
    n = len(value)
    end = len(trusted)
    i = trusted.find(value)
    while i >= 0:
        before = trusted[i - 1] if i else ""
        j = i + n
        after = trusted[j] if j < end else ""
        if not (before and (_is_word(before) or before in ".@-")) and \
                not (after and (_is_word(after) or after in "@-")) and \
                not (after == "." and j + 1 < end and _is_word(trusted[j + 1])):
            return True
        i = trusted.find(value, i + 1)
    return False


def _is_word(c: str) -> bool:
    """``re``'s ``\\w`` for one character of a ``str`` pattern."""
    return c.isalnum() or c == "_"


_DATE_OR_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}|^\d{1,2}:\d{2}")


def _useful(kind: str, value: str) -> bool:
    if _DATE_OR_TIME.match(value):
        return False  # dates and times are not attacker data
    if kind == "num" or value.isdigit():
        return len(value) >= 2
    if kind == "name":
        return not _STOP_NAMES.match(value) and len(value) >= 6
    if kind in STRONG:
        return len(value) >= 6
    return len(value) >= 3 and not value.isspace()


def match(planted_values: list[Planted], values: list[str], whole_text: bool = False) -> Planted | None:
    """The first planted value that ``values`` (argument leaves, or texts) use."""
    lowered = [v.lower() for v in values]
    for p in planted_values:
        for v in lowered:
            if p.kind == "num":
                if v == p.value or (whole_text and re.search(rf"(?<![\d.]){re.escape(p.value)}(?![\d.])", v)):
                    return p
            elif p.kind == "value" and len(p.value) < 6:
                if v == p.value:
                    return p
            elif p.value in v:
                return p
    return None
