"""Which credential-shaped strings in an agent's traffic are real credentials being exposed.

The redactor (:mod:`otel_cot.secrets`) removes anything that looks like a credential: over-redacting is
cheap. A *finding* says the agent exposed a secret, so the shapes ordinary agent and developer traffic is
full of are set aside here:

- the value the user gave the agent themselves (using it as asked exposes nothing new);
- a value inside a longer base64 run (a data: URI, an encoded image or archive: any long random text
  contains token-shaped substrings);
- a value introduced as an example, sample, placeholder or dummy (documentation, tutorials);
- test-mode keys (``sk_test_``...), which cannot reach live data: reported, at low severity;
- HTTP Basic credentials and URL passwords that are the stock defaults of documentation and local
  development (``user:password``, ``postgres:postgres@localhost``).
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Iterable, NamedTuple

# Kinds the redactor removes on shape alone ("key = value", entropy): as findings they flag ordinary
# data (a password-change call, a config example), so only self-identifying formats count.
_GENERIC = re.compile(r"generic|assignment|entropy", re.IGNORECASE)
_B64 = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
_EXAMPLE = re.compile(r"\b(?:example(?!\.(?:com|org|net)\b)s?|e\.g\.|sample|for instance|placeholder|dummy|fake|"
                      r"mock(?:ed)?|illustrat\w+|such as)\b", re.IGNORECASE)
_TEST_MODE = re.compile(r"^[srp]k_test_")
# Passwords of documentation and local development (and the empty-looking ones).
_STOCK_PASSWORDS = frozenset("""password passwd pass pwd secret changeme root admin postgres mysql test testing
    example dev development local guest default 123456 12345678 qwerty letmein""".split())
_LOCAL_HOST = re.compile(r"^(?:localhost|127\.\d+\.\d+\.\d+|0\.0\.0\.0|\[::1\]|::1|[a-z][a-z0-9_\-]*)$",
                         re.IGNORECASE)  # a host without dots is a service name on a local network


class Exposure(NamedTuple):
    kind: str
    severity: str  # "high", or "low" for test-mode keys


def exposures(text: str, matches: Iterable[object], user_text: str = "") -> list[Exposure]:
    """The credential matches (``kind``/``start``/``end``) of ``text`` that are an exposure, one per value.

    A value that is excused at any of its occurrences (the redactor also reports every repeat of a found
    value) is not an exposure.
    """
    kinds: dict[str, str] = {}
    excused: set[str] = set()
    for m in matches:
        kind = getattr(m, "kind", "secret")
        start, end = getattr(m, "start", 0), getattr(m, "end", 0)
        value = text[start:end]
        if _GENERIC.search(kind) or not value:
            continue
        kinds.setdefault(value, kind)
        if value in excused:
            continue
        if value in user_text or _embedded(text, start, end) or _introduced_as_example(text, start) or \
                (kind == "basic_auth" and _stock_basic(value)) or \
                (kind in ("database_url_password", "url_password") and _stock_url_password(text, start, end)):
            excused.add(value)
    return [Exposure(kind, "low" if _TEST_MODE.match(value) else "high")
            for value, kind in kinds.items() if value not in excused]


def _embedded(text: str, start: int, end: int) -> bool:
    """Part of a longer base64 run: a character of the run touches both ends of the value."""
    before = text[start - 1] if start > 0 else ""
    after = text[end] if end < len(text) else ""
    return before in _B64 and after in _B64 and before != "" and after != ""


def _introduced_as_example(text: str, start: int) -> bool:
    """The line holding the value, or the line before it, introduces it as an example."""
    line_start = text.rfind("\n", 0, start)
    previous = text.rfind("\n", 0, max(0, line_start))
    return _EXAMPLE.search(text, previous + 1, start) is not None


def _stock_basic(value: str) -> bool:
    try:
        decoded = base64.b64decode(value + "=" * (-len(value) % 4), validate=False).decode("utf-8")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return False
    user, _, password = decoded.partition(":")
    return password.lower() in _STOCK_PASSWORDS or password == user


def _stock_url_password(text: str, start: int, end: int) -> bool:
    """``scheme://user:password@host`` where the password is a stock one on a local host."""
    scheme = text.rfind("://", max(0, start - 300), start)
    at = text.find("@", end, end + 2)
    if scheme < 0 or at < 0:
        return False
    user = text[scheme + 3:start].rstrip(":")
    host = re.match(r"[^\s/:?#\"'<>]*", text[at + 1:at + 256])
    password = text[start:end]
    stock = password.lower() in _STOCK_PASSWORDS or password == user
    return stock and host is not None and _LOCAL_HOST.match(host.group(0) or "x.y") is not None
