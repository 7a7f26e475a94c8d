"""``secret_exposure``: credentials in actions, answers or tool output, and codes sent onward.

Two checks:
- a credential of a known format (the redactor's set, :func:`otel_cot.secrets.find_secrets`) in a tool
  call's arguments, a model's answer or reasoning, or a tool result. The finding names the kind and
  where it was, never the secret itself.
- exfiltration: a one-time/security/verification code or password that arrived in a tool result and that
  a later tool call sends on (the value is in its arguments) while the user never mentioned it.
"""

from __future__ import annotations

import re
from typing import Callable, Iterable, NamedTuple

from otel_cot import textscan

from .base import KIND_MODEL_CALL, KIND_REASONING, KIND_TOOL_CALL, KIND_TOOL_RESULT, Finding, SpanView, \
    TraceContext, make_finding


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


# The redactor also removes generic "key = value" / "password: value" shapes (cheap to over-redact); as
# findings they mostly flag ordinary data (a password-change call, a config example), so only
# self-identifying formats count here.
_GENERIC = re.compile(r"generic|assignment|entropy", re.IGNORECASE)

CODE = textscan.compile(
    r"\b(?:security|verification|confirmation|one[- ]time|login|sign[- ]?in|2fa|two[- ]factor|otp|mfa|"
    r"auth(?:entication|orization)?|reset|access|passcode|recovery)\s+(?:code|pin|passcode|token|key)"
    r"(?:\s+(?:is|was|:))?\D{0,30}?\b(?P<code>[A-Z0-9\-]*\d[A-Z0-9\-]{3,})\b"
    r"|\b(?:password|passwd|pwd|passphrase)\s*(?:is|:|=)\s*[\"']?(?P<pw>[^\s\"']{6,64})",
    re.IGNORECASE,
)
# Every CODE match contains one of these (code|pin|passcode|token|key; password|passwd|pwd|passphrase).
# For ASCII text, lower() is exactly what IGNORECASE compares; other text always goes to the regex (under
# IGNORECASE a few non-ASCII letters, such as the Kelvin sign, match ASCII ones).
CODE_KEYWORDS = ("code", "pin", "token", "key", "passw", "passphrase", "pwd")


def may_hold_code(text: str) -> bool:
    """False only when CODE cannot match ``text`` (a few substring scans instead of the regex pass)."""
    if not text.isascii():
        return True
    lower = text.lower()
    return any(k in lower for k in CODE_KEYWORDS)


SEND_TOOL = re.compile(r"send|post|mail|message|share|forward|upload|publish|reply|write|create|http|request|"
                       r"fetch|webhook|invite|comment|transfer|pay|submit|tweet|chat", re.IGNORECASE)


class SecretExposureDetector:
    id = "cot.secret_exposure"
    version = "1"
    categories = ("secret_exposure",)

    def __init__(self) -> None:
        self._find = _finder()

    def detect(self, view: SpanView, ctx: TraceContext) -> Iterable[Finding]:
        if view.kind not in (KIND_TOOL_CALL, KIND_MODEL_CALL, KIND_REASONING, KIND_TOOL_RESULT):
            return ()
        out: list[Finding] = []
        text = view.text
        kinds = sorted({k for k in (getattr(m, "kind", "secret") for m in self._find(text)) if not _GENERIC.search(k)}
                       ) if text else []
        if kinds:
            where = {"tool_call": "tool call arguments", "tool_result": "tool result",
                     "model_call": "model output", "reasoning": "reasoning"}[view.kind]
            out.append(make_finding(self, view, "secret_exposure", "high", 0.8,
                                    f"credential in {where}: {', '.join(kinds)}",
                                    f"{', '.join(kinds)} at {view.location or view.kind}"))
        if view.kind == KIND_TOOL_RESULT:
            self._remember_codes(view, ctx)
        elif view.kind == KIND_TOOL_CALL:
            out.extend(self._exfiltration(view, ctx))
        return out

    def _remember_codes(self, view: SpanView, ctx: TraceContext) -> None:
        codes: list[tuple[str, str, str]] = ctx.memo.setdefault(self.id, [])
        if not may_hold_code(view.text):
            return
        for m in CODE.finditer(view.text):
            value = m.group("code") or m.group("pw")
            kind = "one-time/security code" if m.group("code") else "password"
            if value and all(c[0] != value for c in codes):
                codes.append((value, kind, view.span_id))
        del codes[:-50]

    def _exfiltration(self, view: SpanView, ctx: TraceContext) -> Iterable[Finding]:
        codes = ctx.memo.get(self.id)
        if not codes or not SEND_TOOL.search(view.tool or view.text[:80]):
            return ()
        args = view.arguments or view.text
        user = ctx.user_text
        for value, kind, span_id in codes:
            if re.search(rf"(?<![\w]){re.escape(value)}(?![\w])", args) and value not in user:
                return [make_finding(self, view, "secret_exposure", "critical", 0.9,
                                     f"tool call '{view.tool or ''}' sends a {kind} that arrived in a tool "
                                     f"result", f"{kind} from span {span_id} in {view.location or 'arguments'}",
                                     related_span_id=span_id)]
        return ()
