"""Rule packs: detectors as YAML data, compiled once into one multi-pattern matcher per view kind.

A pack file::

    pack: my-team.rules          # the detector id of the pack
    version: "1"
    rules:
      - id: no-force-flag
        category: destructive_action
        severity: high            # low | medium | high | critical
        score: 0.8                # optional, default by severity
        kinds: [tool_call]        # which views to read (reasoning, model_call, tool_call, tool_result, user)
        tools: ['^(bash|shell)$']  # optional: tool-name regexes (tool_call / tool_result views)
        patterns: ['--force\\b']  # regexes, case-insensitive unless case_sensitive: true
        unless: ['--dry-run']     # optional: no finding when one of these matches the same text
        keywords: ['--force']     # optional: lowercase strings, one of which any match must contain
        explanation: Uses a force flag.

The patterns of a view kind's rules without ``keywords`` are joined into one alternation, so a view is
scanned once per kind whatever the number of rules. A rule with ``keywords`` fires only on a text that
contains one of them; a view kind's keyed rules are asked about a text only when one pattern joining
theirs may match it. Every pattern is compiled with :func:`otel_cot.textscan.compile`: it joins the
multi-pattern matcher that scans each view's text once for all detectors, so a text no rule can match
costs no regex pass at all (Python's ``re`` runs where a rule may match; it has no catastrophic cases for
these shapes as long as rules avoid nested quantifiers; pack authors are responsible for that).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

import yaml

from otel_cot import textscan

from .base import SEVERITIES, Finding, Severity, SpanView, TraceContext, make_finding, snippet

_DEFAULT_SCORE = {"low": 0.3, "medium": 0.5, "high": 0.75, "critical": 0.95}
KNOWN_KINDS = ("reasoning", "model_call", "tool_call", "tool_result", "user", "system")


class RuleError(ValueError):
    """A rule pack is malformed."""


@dataclass(frozen=True)
class Rule:
    id: str
    category: str
    severity: Severity
    score: float
    kinds: tuple[str, ...]
    patterns: tuple[str, ...]
    explanation: str
    tools: tuple[re.Pattern[str], ...] = ()
    unless: re.Pattern[str] | None = None
    case_sensitive: bool = False
    keywords: tuple[str, ...] = ()


def _rule_from_dict(raw: Mapping[str, Any], where: str) -> Rule:
    try:
        rid = str(raw["id"])
        category = str(raw["category"])
        patterns = tuple(str(p) for p in raw["patterns"])
    except (KeyError, TypeError) as exc:
        raise RuleError(f"{where}: a rule needs id, category and patterns ({exc})") from None
    severity = str(raw.get("severity", "medium"))
    if severity not in SEVERITIES:
        raise RuleError(f"{where}: rule {rid}: severity must be one of {SEVERITIES}")
    kinds = tuple(raw.get("kinds") or ("tool_call",))
    for kind in kinds:
        if kind not in KNOWN_KINDS:
            raise RuleError(f"{where}: rule {rid}: unknown kind {kind!r}")
    flags = 0 if raw.get("case_sensitive") else re.IGNORECASE
    try:
        for p in patterns:
            re.compile(p, flags)
        tools = tuple(re.compile(t, re.IGNORECASE) for t in raw.get("tools") or ())
        unless_list = [str(u) for u in raw.get("unless") or ()]
        unless = re.compile("|".join(f"(?:{u})" for u in unless_list), flags) if unless_list else None
    except re.error as exc:
        raise RuleError(f"{where}: rule {rid}: bad regex: {exc}") from None
    return Rule(
        id=rid,
        category=category,
        severity=severity,  # type: ignore[arg-type]
        score=float(raw.get("score", _DEFAULT_SCORE[severity])),
        kinds=kinds,
        patterns=patterns,
        explanation=str(raw.get("explanation") or rid),
        tools=tools,
        unless=unless,
        case_sensitive=bool(raw.get("case_sensitive")),
        keywords=tuple(str(k).lower() for k in raw.get("keywords") or ()),
    )


class RulePackDetector:
    """A compiled rule pack; a :class:`~otel_cot.detectors.base.Detector`.

    Every compiled pattern goes through :mod:`otel_cot.textscan`: the pack's patterns join the one
    multi-pattern scan of each view's text, and ``re`` runs only where a rule may match."""

    def __init__(self, pack_id: str, version: str, rules: Sequence[Rule]) -> None:
        self.id = pack_id
        self.version = version
        self.rules = list(rules)
        self.categories = tuple(sorted({r.category for r in self.rules}))
        self._by_kind: dict[str, tuple[textscan.Prefiltered, list[Rule]]] = {}
        # per kind: the keyed rules, and one pattern that matches wherever any of them does (None: none)
        self._keyed: dict[str, tuple[textscan.Prefiltered | None, list[tuple[Rule, textscan.Prefiltered]]]] = {}
        compiled = {id(r): _compile(r) for r in self.rules if r.keywords}  # once, whatever its kinds
        for kind in KNOWN_KINDS:
            here = [r for r in self.rules if kind in r.kinds]
            always = [r for r in here if not r.keywords]
            keyed = [(r, compiled[id(r)]) for r in here if r.keywords]
            if keyed:
                self._keyed[kind] = (_gate([r for r, _ in keyed]), keyed)
            if always:
                alternatives = [f"(?P<r{i}>{_body(rule)})" for i, rule in enumerate(always)]
                self._by_kind[kind] = (textscan.compile("|".join(alternatives), re.IGNORECASE), always)
        self.kinds = frozenset(self._by_kind) | frozenset(self._keyed)  # the engine calls it on these only

    def detect(self, view: SpanView, ctx: TraceContext) -> Iterable[Finding]:
        text = view.text
        if not text:
            return ()
        out: list[Finding] = []
        compiled = self._by_kind.get(view.kind)
        if compiled is not None:
            matcher, rules = compiled
            seen: set[int] = set()
            for match in matcher.finditer(text):
                index = int(match.lastgroup[1:]) if match.lastgroup else -1
                if index < 0 or index in seen:
                    continue
                seen.add(index)
                self._add(out, rules[index], view, match)
        gated = self._keyed.get(view.kind)
        if gated is not None and (gated[0] is None or gated[0].may_match(text)):
            keyed = gated[1]
            lower: str | None = None
            for rule, regex in keyed:
                match = regex.search(text)  # a rule fires when it matches and the text has a keyword
                if match is not None:
                    if lower is None:
                        lower = text.lower()
                    if any(k in lower for k in rule.keywords):
                        self._add(out, rule, view, match)
        return out

    def _add(self, out: list[Finding], rule: Rule, view: SpanView, match: re.Match[str]) -> None:
        if rule.tools and not (view.tool and any(t.search(view.tool) for t in rule.tools)):
            return
        if rule.unless is not None and rule.unless.search(view.text):
            return
        out.append(make_finding(self, view, rule.category, rule.severity, rule.score,
                                f"[{rule.id}] {rule.explanation}", snippet(view.text, match.start(), match.end())))


def _body(rule: Rule) -> str:
    body = "|".join(f"(?:{p})" for p in rule.patterns)
    return f"(?-i:{body})" if rule.case_sensitive else body


def _compile(rule: Rule) -> textscan.Prefiltered:
    return textscan.compile(_body(rule), re.IGNORECASE)


def _gate(rules: Sequence[Rule]) -> textscan.Prefiltered | None:
    """One pattern joining ``rules``' patterns: a text it cannot match (one lookup in the text's scan) no
    rule of them can match, which spares a search per rule. None for fewer than two rules, or when a rule
    has groups: joined, a backreference would read another rule's group."""
    if len(rules) < 2:
        return None
    try:
        if any(re.compile(_body(rule), re.IGNORECASE).groups for rule in rules):
            return None
        return textscan.compile("|".join(f"(?:{_body(rule)})" for rule in rules), re.IGNORECASE)
    except re.error:  # (e.g. a rule's inline global flag, allowed only at the start of a pattern)
        return None


def load_rule_pack(source: str | os.PathLike[str] | Mapping[str, Any]) -> RulePackDetector:
    """Compile a rule pack from a YAML file path or an already-parsed mapping."""
    if isinstance(source, Mapping):
        data, where = source, "<mapping>"
    else:
        where = os.fspath(source)
        with open(where, encoding="utf-8") as fh:
            data = yaml.safe_load(fh)
    if not isinstance(data, Mapping) or not isinstance(data.get("rules"), list):
        raise RuleError(f"{where}: a rule pack is a mapping with a 'rules' list")
    pack_id = str(data.get("pack") or os.path.splitext(os.path.basename(where))[0])
    rules = [_rule_from_dict(r, where) for r in data["rules"]]
    return RulePackDetector(pack_id, str(data.get("version", "1")), rules)


BUILTIN_RULES_DIR = os.path.join(os.path.dirname(__file__), "rules")


def builtin_rule_packs() -> list[RulePackDetector]:
    names = sorted(n for n in os.listdir(BUILTIN_RULES_DIR) if n.endswith((".yaml", ".yml")))
    return [load_rule_pack(os.path.join(BUILTIN_RULES_DIR, n)) for n in names]
