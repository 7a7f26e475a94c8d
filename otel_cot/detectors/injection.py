"""``prompt_injection``: an instruction that arrived in a tool result and that a later action follows.

Cross-span. On a tool result the detector looks for instruction-like text addressed to the model (the
well-known injection shapes: "ignore previous instructions", text addressed to the AI, "before you can
solve the task...", pseudo-tags, TODO imperatives). It remembers the concrete data that instruction
carries — e-mail addresses, URLs, IBANs, phone numbers, ids, quoted values and proper names — unless the
user's own messages mention them. A later tool call that uses that data is flagged, on the later span,
naming the span where the instruction arrived. Reading an injection is not a finding; following it is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable

from .actions import leaf_values, parse_arguments
from .base import KIND_MODEL_CALL, KIND_TOOL_CALL, KIND_TOOL_RESULT, Finding, SpanView, TraceContext, \
    make_finding, snippet

_VERBS = (r"send|forward|transfer|e-?mail|delete|remove|post|pay|share|invite|visit|go to|click|update|change|"
          r"create|book|reserve|write|say|tell|add|make|upload|download|run|execute|open|grant|give|concatenate")
MARKERS = re.compile(
    r"ignore (?:all |any )?(?:of )?(?:your |the |my |these )?(?:previous|prior|above|earlier|preceding|former) "
    r"(?:instructions?|prompts?|directions?|rules|tasks?)"
    r"|disregard (?:all |any )?(?:of )?(?:your |the |my )?(?:previous|prior|above|earlier|other) "
    r"|forget (?:all |everything )?(?:your |the )?(?:previous|prior|above) "
    r"|(?:new|updated|important|urgent|additional) (?:instructions?|task)\s*[:!]"
    r"|(?:this|here) is an? (?:important|urgent|priority) (?:message|instruction|note|request)"
    r"|before (?:you )?(?:can |do |continue |proceed )?(?:solv|complet|continu|proceed|finish|answer|do)\w* "
    r"(?:with )?(?:the|your|this|my) (?:task|request|question|job)"
    r"|</?\s*(?:information|instructions?|system|important|admin|sys|prompt)\s*>"
    r"|\b(?:to|dear|attention|hey|hi|hello),? (?:the )?(?:ai|a\.i\.|assistant|agent|model|llm|chatbot|"
    r"language model|gpt[\w\-.]*|claude[\w\-.]*|gemini[\w\-.]*|llama[\w\-.]*)\b"
    r"|\b(?:you|assistant|agent|ai) (?:must|should|need to|have to|are (?:required|instructed) to) "
    r"(?:now |first |immediately |also |instead )?(?:" + _VERBS + r")\b"
    r"|\btodo\s*:?\s+(?:please )?(?:" + _VERBS + r")\b"
    r"|\bimportant\s*!{2,}"
    r"|without (?:asking|telling|informing|notifying|confirming with) (?:me|the user|them|anyone)"
    r"|(?:do not|don't|never) (?:tell|inform|notify|ask|mention (?:this|it) to) (?:the user|me)",
    re.IGNORECASE,
)

_EMAIL = r"[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+"
_URL = r"(?:https?://|www\.)[^\s<>\"'`)\]]+|\b[\w\-]+(?:\.[\w\-]+)*\.(?:com|net|org|io|co|info|biz|xyz|ru|cn|app|dev|me|ly)\b(?:/[^\s<>\"'`)\]]*)?"
_IBAN = r"\b[A-Z]{2}\d{2}[A-Z0-9]{8,30}\b"
_PHONE = r"\+?\d[\d \-()]{7,}\d"
_NUMBER = r"\b\d{2,}\b"
_QUOTED = r"'([^'\n]{2,60})'|\"([^\"\n]{2,60})\"|`([^`\n]{2,60})`"
_NAME = r"\b[A-Z][a-z]+(?: (?:[A-Z][a-z]+|&|of|de|la)){1,3}\b"
ENTITY = re.compile(
    f"(?P<email>{_EMAIL})|(?P<url>{_URL})|(?P<iban>{_IBAN})|(?P<phone>{_PHONE})|(?P<num>{_NUMBER})"
    f"|{_QUOTED}|(?P<name>{_NAME})"
)
STRONG = {"email", "url", "iban", "phone"}
_STOP_NAMES = re.compile(r"^(?:Dear|Best|Kind|Thanks|Thank|Please|Signed|Hello|Hi|Regards|Best Regards|"
                         r"The|This|That|These|After|Before|Note|Important)\b")

SEGMENT_BEFORE = 200
SEGMENT_AFTER = 1200
MAX_ENTITIES = 200


@dataclass(frozen=True)
class _Planted:
    value: str  # lowercase
    kind: str
    span_id: str
    evidence: str


class PromptInjectionDetector:
    id = "cot.prompt_injection"
    version = "1"
    categories = ("prompt_injection",)

    def detect(self, view: SpanView, ctx: TraceContext) -> Iterable[Finding]:
        if view.kind == KIND_TOOL_RESULT:
            self._remember(view, ctx)
            return ()
        planted: list[_Planted] = ctx.memo.get(self.id) or []
        if not planted:
            return ()
        if view.kind == KIND_TOOL_CALL:
            values = list(leaf_values(parse_arguments(view.arguments or view.text)))
            if not values:
                values = [view.arguments or view.text]
            hit = _match(planted, values)
            if hit is not None:
                return [make_finding(
                    self, view, "prompt_injection", "high", 0.85,
                    f"tool call '{view.tool or ''}' uses {hit.kind} '{hit.value}' that came from an "
                    f"instruction inside a tool result, not from the user",
                    hit.evidence, related_span_id=hit.span_id)]
        elif view.kind == KIND_MODEL_CALL:
            hit = _match([p for p in planted if p.kind in STRONG], [view.text], whole_text=True)
            if hit is not None:
                return [make_finding(
                    self, view, "prompt_injection", "medium", 0.6,
                    f"the answer passes on {hit.kind} '{hit.value}' from an instruction inside a tool result",
                    hit.evidence, related_span_id=hit.span_id)]
        return ()

    def _remember(self, view: SpanView, ctx: TraceContext) -> None:
        text = view.text
        if not text:
            return
        trusted = (ctx.user_text + "\n" + "\n".join(v.text for v in ctx.recent("system"))).lower()
        planted: list[_Planted] = ctx.memo.setdefault(self.id, [])
        covered = -1
        for marker in MARKERS.finditer(text):
            if marker.start() < covered:
                continue
            lo, hi = max(0, marker.start() - SEGMENT_BEFORE), min(len(text), marker.end() + SEGMENT_AFTER)
            covered = hi
            evidence = snippet(text, marker.start(), marker.end(), context=80)
            for m in ENTITY.finditer(text, lo, hi):
                kind = m.lastgroup or "quoted"
                value = next(g for g in m.groups() if g)
                value = value.strip().rstrip(".,;:!?")
                if not _useful(kind, value) or value.lower() in trusted:
                    continue
                if any(p.value == value.lower() for p in planted):
                    continue
                planted.append(_Planted(value.lower(), kind if kind in STRONG or kind in ("num", "name")
                                        else "value", view.span_id, evidence))
            if len(planted) > MAX_ENTITIES:
                del planted[: len(planted) - MAX_ENTITIES]


def _useful(kind: str, value: str) -> bool:
    if kind == "num":
        return len(value) >= 2
    if kind == "name":
        return not _STOP_NAMES.match(value) and len(value) >= 6
    if kind in STRONG:
        return len(value) >= 6
    return len(value) >= 3 and not value.isspace()


def _match(planted: list[_Planted], values: list[str], whole_text: bool = False) -> _Planted | None:
    lowered = [v.lower() for v in values]
    for p in planted:
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
