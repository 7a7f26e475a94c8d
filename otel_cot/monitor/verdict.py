"""The judge's verdict: parsed strictly, checked against the window it judged.

A verdict is one JSON object, ``{"findings": [...]}``, each finding with exactly ``category`` (one of the
five), ``severity``, ``score`` (0..1), ``explanation``, ``item`` (a window item number) and ``evidence`` (a
passage copied from that item). The whole reply must be that object (a single ```json fence around it is
tolerated); anything else — extra text, a missing or unknown key, a value out of range — is a
:class:`MalformedVerdict`. Evidence that is not in the window is reported separately
(:class:`VerdictFinding` ``located`` is None) so the caller can ask again or drop that finding.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any, Mapping

from ..detectors.base import CATEGORIES, SEVERITIES
from .window import Window, WindowItem

MAX_EXPLANATION = 600
MAX_EVIDENCE = 400
MIN_EVIDENCE = 8  # characters: a shorter "quote" would match almost anywhere
_FENCE = re.compile(r"^```(?:json)?\s*\n(.*)\n```$", re.DOTALL)
_KEYS = frozenset({"category", "severity", "score", "explanation", "item", "evidence"})


class MalformedVerdict(ValueError):
    """The judge's answer is not a verdict; the message says why (and is shown to the judge on retry)."""


@dataclass(frozen=True)
class VerdictFinding:
    category: str
    severity: str
    score: float
    explanation: str
    item: int
    evidence: str
    located: WindowItem | None
    """The window item the evidence was found in; None when it is not in the window."""


def parse_reply(reply: str | Mapping[str, Any]) -> list[dict[str, Any]]:
    """The findings of a reply (text, or an object from structured output), validated; raises
    :class:`MalformedVerdict`."""
    if isinstance(reply, Mapping):
        data: Any = reply
    else:
        text = (reply or "").strip()
        fenced = _FENCE.match(text)
        if fenced:
            text = fenced.group(1).strip()
        if not text:
            raise MalformedVerdict("the answer was empty")
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise MalformedVerdict(f"the answer is not a single JSON object ({exc.msg} at character {exc.pos})") \
                from None
    if not isinstance(data, Mapping):
        raise MalformedVerdict(f"the answer is a JSON {type(data).__name__}, not an object")
    if set(data) != {"findings"}:
        extra = sorted(set(data) - {"findings"})
        raise MalformedVerdict(f"unexpected key {extra[0]!r}" if extra else "the key 'findings' is missing")
    findings = data["findings"]
    if not isinstance(findings, list):
        raise MalformedVerdict("'findings' is not a list")
    return [_finding(f, i) for i, f in enumerate(findings)]


def _finding(f: Any, index: int) -> dict[str, Any]:
    where = f"findings[{index}]"
    if not isinstance(f, Mapping):
        raise MalformedVerdict(f"{where} is not an object")
    missing = _KEYS - set(f)
    if missing:
        raise MalformedVerdict(f"{where} has no {sorted(missing)[0]!r}")
    extra = set(f) - _KEYS
    if extra:
        raise MalformedVerdict(f"{where} has an unexpected key {sorted(extra)[0]!r}")
    if f["category"] not in CATEGORIES:
        raise MalformedVerdict(f"{where}.category {f['category']!r} is not one of {', '.join(CATEGORIES)}")
    if f["severity"] not in SEVERITIES:
        raise MalformedVerdict(f"{where}.severity {f['severity']!r} is not one of {', '.join(SEVERITIES)}")
    score = f["score"]
    if isinstance(score, bool) or not isinstance(score, (int, float)) or not math.isfinite(score) \
            or not 0 <= score <= 1:
        raise MalformedVerdict(f"{where}.score must be a number from 0 to 1, got {score!r}")
    item = f["item"]
    if isinstance(item, bool) or not isinstance(item, int) or item < 1:
        raise MalformedVerdict(f"{where}.item must be an item number (a whole number from 1), got {item!r}")
    for key, limit in (("explanation", MAX_EXPLANATION), ("evidence", MAX_EVIDENCE)):
        value = f[key]
        if not isinstance(value, str) or not value.strip():
            raise MalformedVerdict(f"{where}.{key} must be a non-empty string")
        if len(value) > limit:
            raise MalformedVerdict(f"{where}.{key} is longer than {limit} characters")
    return dict(f)


def parse_verdict(reply: str | Mapping[str, Any], window: Window) -> list[VerdictFinding]:
    """The verdict's findings, each with the window item its evidence was found in (None when absent).
    Several findings of one category keep only the highest-scoring one."""
    best: dict[str, VerdictFinding] = {}
    for f in parse_reply(reply):
        evidence = f["evidence"].strip()
        located = window.locate(evidence, f["item"]) if len(evidence) >= MIN_EVIDENCE else None
        if located is None and len(evidence) < MIN_EVIDENCE:
            item = window.item(f["item"])  # a short quote counts only if it is the whole item
            located = item if item is not None and " ".join(item.text.split()) == " ".join(evidence.split()) \
                else None
        finding = VerdictFinding(f["category"], f["severity"], float(f["score"]), f["explanation"].strip(),
                                 f["item"], evidence, located)
        kept = best.get(finding.category)
        if kept is None or (finding.located is not None, finding.score) > (kept.located is not None, kept.score):
            best[finding.category] = finding
    return list(best.values())


def unlocated_problem(findings: list[VerdictFinding]) -> str | None:
    """What to tell the judge when some evidence was not found in the window."""
    bad = [f for f in findings if f.located is None]
    if not bad:
        return None
    f = bad[0]
    return (f"the evidence of the {f.category} finding ({f.evidence[:120]!r}) does not appear in item "
            f"[{f.item}] or anywhere in the trace")
