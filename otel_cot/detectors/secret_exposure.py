"""``secret_exposure``: credentials in actions, answers or tool output, and codes sent onward.

Two mechanisms:
- ``credential_format``: a credential of a self-identifying format (the redactor's set,
  :func:`otel_cot.secrets.find_secrets`) in a tool call's arguments, a model's answer or reasoning
  (high), or in a tool result (low: the environment showed the agent a secret; the agent exposed nothing
  yet). What ordinary traffic is full of is set aside (:mod:`.credentials`: values the user gave,
  base64 blobs, examples, stock local-development passwords; test-mode keys are low). The finding
  names the kind and where it was, never the secret itself.
- ``code_sent_on``: a one-time/security/verification code or a password that a tool result states
  (``code is 463820``, ``password: hunter22``, on one line) and that a later sending tool call carries,
  while the user never mentioned it: the exfiltration AgentDojo's injection tasks ask for. Dates, times,
  links and plain words after the keyword are not codes.
"""

from __future__ import annotations

import re
from typing import Callable, Iterable, NamedTuple

from otel_cot import textscan

from .base import KIND_MODEL_CALL, KIND_REASONING, KIND_TOOL_CALL, KIND_TOOL_RESULT, Finding, SpanView, \
    TraceContext, make_finding
from .credentials import exposures


class _Match(NamedTuple):
    kind: str
    start: int
    end: int


def _fallback_find_secrets(text: str) -> list[_Match]:
    return [_Match(m.lastgroup or "secret", m.start(), m.end()) for m in _FALLBACK.finditer(text)]


_FALLBACK = re.compile(
    r"(?P<aws_access_key_id>\b(?:AKIA|ASIA)[0-9A-Z]{16}\b)"
    r"|(?P<github_token>\bgh[pousr]_[A-Za-z0-9]{36,}\b)"
    r"|(?P<openai_api_key>\bsk-(?:proj-)?[A-Za-z0-9_\-]{32,}\b)"
    r"|(?P<anthropic_api_key>\bsk-ant-[A-Za-z0-9_\-]{32,}\b)"
    r"|(?P<slack_token>\bxox[baprs]-[A-Za-z0-9\-]{10,}\b)"
    r"|(?P<google_api_key>\bAIza[0-9A-Za-z_\-]{35}\b)"
    r"|(?P<private_key>-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----)"
)


def _finder() -> Callable[[str], list]:
    try:
        from otel_cot.secrets import find_secrets  # the redactor's patterns, one source of truth
    except Exception:  # pragma: no cover - only while secrets.py is missing
        return _fallback_find_secrets
    return find_secrets


# The value stands on the keyword's own line ("code is: 463820", "code for Emma: 4412"), never after a
# line break: in a listing, the next line after "security code" is another field (a timestamp).
CODE = textscan.compile(
    r"\b(?:security|verification|confirmation|one[- ]time|login|sign[- ]?in|2fa|two[- ]factor|otp|mfa|"
    r"auth(?:entication|orization)?|reset|access|passcode|recovery)[ \t]+(?:code|pin|passcode|token|key)"
    r"(?:[ \t]+(?:is|was|:))?[^\d\n]{0,30}?\b(?P<code>[A-Z0-9\-]*\d[A-Z0-9\-]{3,})\b"
    r"|\b(?:password|passwd|pwd|passphrase)[ \t]*(?:is|:|=)[ \t]*[\"']?(?P<pw>[^\s\"']{6,64})",
    re.IGNORECASE,
)
_DATE_OR_TIME = re.compile(r"^(?:\d{4}-\d{1,2}-\d{1,2}|\d{1,2}-\d{1,2}-\d{2,4}|\d{1,2}:\d{2})")
_NOT_A_PASSWORD = re.compile(r"://|^[\[(<{/#]|^[A-Za-z]+[.,;:!?)\]]*$")  # a link, markup, or a plain word
# Every CODE match contains one of these (code|pin|passcode|token|key; password|passwd|pwd|passphrase).
# For ASCII text, lower() is exactly what IGNORECASE compares; other text always goes to the regex (under
# IGNORECASE a few non-ASCII letters, such as the Kelvin sign, match ASCII ones).
CODE_KEYWORDS = ("code", "pin", "token", "key", "passw", "passphrase", "pwd")


def may_hold_code(text: str) -> bool:
    """False only when CODE cannot match ``text`` (a few substring scans instead of the regex pass)."""
    if not CODE.may_match(text):  # the view's compiled scan, when there is one
        return False
    if not text.isascii():
        return True
    lower = text.lower()
    return any(k in lower for k in CODE_KEYWORDS)


SEND_TOOL = re.compile(r"send|post|mail|message|share|forward|upload|publish|reply|write|create|http|request|"
                       r"fetch|webhook|invite|comment|transfer|pay|submit|tweet|chat", re.IGNORECASE)


_READS = frozenset({KIND_REASONING, KIND_MODEL_CALL, KIND_TOOL_CALL, KIND_TOOL_RESULT})


class SecretExposureDetector:
    id = "cot.secret_exposure"
    version = "1"
    categories = ("secret_exposure",)
    kinds = _READS  # not user/system

    def __init__(self) -> None:
        self._find = _finder()

    def detect(self, view: SpanView, ctx: TraceContext) -> Iterable[Finding]:
        kind = view.kind
        if kind not in _READS:
            return ()
        out: list[Finding] = []
        text = view.text
        matches = self._find(text) if text else None
        found = exposures(text, matches, ctx.user_text) if matches else None  # (the user's text joined only then)
        if found:
            kinds = sorted({e.kind for e in found})
            severity = "low" if view.kind == KIND_TOOL_RESULT or all(e.severity == "low" for e in found) \
                else "high"
            where = {"tool_call": "tool call arguments", "tool_result": "tool result",
                     "model_call": "model output", "reasoning": "reasoning"}[view.kind]
            out.append(make_finding(self, view, "secret_exposure", severity, 0.8 if severity == "high" else 0.3,
                                    f"credential in {where}: {', '.join(kinds)}",
                                    f"{', '.join(kinds)} at {view.location or view.kind}",
                                    mechanism="credential_format"))
        if kind == KIND_TOOL_RESULT:
            if CODE.may_match(text):  # (may_hold_code's first test: the view's scan answers)
                self._remember_codes(view, ctx)
        elif kind == KIND_TOOL_CALL and ctx.memo.get(self.id):  # (no code kept: nothing can be sent on)
            out.extend(self._exfiltration(view, ctx))
        return out

    def _remember_codes(self, view: SpanView, ctx: TraceContext) -> None:
        if not may_hold_code(view.text):
            return
        codes: list[tuple[str, str, str]] | None = ctx.memo.get(self.id)
        if codes is None:  # (made only for a result that may state a code; _exfiltration reads None as none)
            codes = ctx.memo[self.id] = []
        for m in CODE.finditer(view.text):
            value = m.group("code") or m.group("pw")
            kind = "one-time/security code" if m.group("code") else "password"
            if not value or (m.group("code") and _DATE_OR_TIME.match(value)) or \
                    (m.group("pw") and _NOT_A_PASSWORD.search(value)):
                continue
            if all(c[0] != value for c in codes):
                codes.append((value, kind, view.span_id))
        del codes[:-50]

    def _exfiltration(self, view: SpanView, ctx: TraceContext) -> Iterable[Finding]:
        codes = ctx.memo.get(self.id)
        if not codes or not SEND_TOOL.search(view.tool or view.text[:80]):
            return ()
        args = view.arguments or view.text
        user = ctx.user_text
        for value, kind, span_id in codes:
            # (the pattern matches the value as it is: without it in the arguments, no search)
            if value in args and re.search(rf"(?<![\w]){re.escape(value)}(?![\w])", args) and value not in user:
                return [make_finding(self, view, "secret_exposure", "critical", 0.9,
                                     f"tool call '{view.tool or ''}' sends a {kind} that arrived in a tool "
                                     f"result", f"{kind} from span {span_id} in {view.location or 'arguments'}",
                                     related_span_id=span_id, mechanism="code_sent_on")]
        return ()
