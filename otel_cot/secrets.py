"""What a credential looks like: detection and redaction of secrets in captured text.

This module is the only place that knows credential formats. It runs on the hot path
(every captured text is redacted before it reaches a span), so scanning is two-stage:

1. One precompiled *trigger* regex. Every alternative begins with a literal anchor
   character, chosen to be rare in prose and code (``k`` of ``sk-``/``key``/``token``,
   ``A`` of ``AKIA``, ``J`` of ``eyJ``, ``p`` of ``password``, ``:`` of ``://``, ...), with
   the rest of the context checked by lookbehinds. CPython's regex engine then skips, in
   C, every position whose character is not an anchor (about 10-15 ms per MB of clean
   prose or code on CPython 3.11, against ~250 ms for a plain alternation).
2. Each trigger hit is confirmed by a small rule-specific regex plus a validator
   (placeholders, code vs. literal, entropy). Hits are rare, so this Python work is cheap.

Cost is linear in the text size: rule quantifiers are bounded, token rules start only at
a token boundary, and dense runs of candidates are short-circuited (see _parse_value).
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import unquote

from otel_cot import textscan

__all__ = ["SECRET_KINDS", "SecretMatch", "find_secrets", "may_contain_secret", "redact", "shannon_entropy"]


@dataclass(frozen=True, slots=True)
class SecretMatch:
    """One secret in a text: its kind and the span of the secret value itself."""

    kind: str
    start: int
    end: int


SECRET_KINDS: frozenset[str] = frozenset(
    {
        "openai_api_key",
        "anthropic_api_key",
        "aws_access_key_id",
        "aws_secret_access_key",
        "github_token",
        "gitlab_token",
        "slack_token",
        "slack_webhook",
        "google_api_key",
        "stripe_key",
        "huggingface_token",
        "npm_token",
        "pypi_token",
        "private_key",
        "jwt",
        "bearer_token",
        "basic_auth",
        "password_assignment",
        "generic_api_key_assignment",
        "high_entropy_assignment",
        "database_url_password",
        "url_password",
    }
)

_Hit = tuple[str, int, int]  # (kind, start, end)
_Runs = dict[str, tuple[int, int, int]]  # "bv" -> (start, end, judged) of the last bare run
_Handler = Callable[[str, "re.Match[str]", _Runs], "_Hit | None"]


def shannon_entropy(s: str) -> float:
    """Shannon entropy of ``s`` in bits per character (0.0 for empty or uniform text)."""
    n = len(s)
    if n == 0:
        return 0.0
    return 0.0 - sum(c / n * math.log2(c / n) for c in Counter(s).values()) + 0.0


# --- value heuristics ------------------------------------------------------------------

# Markers that a token-shaped value is a documentation stand-in. Deliberately only long or
# structural markers: a short word like "your" occurs by chance in random keys, and a real
# key left unredacted is worse than a placeholder redacted.
_TOKEN_PLACEHOLDER_RX = re.compile(r"(?i)example|placeholder|redacted|changeme|x{8}|\*{3}|\.{3}")

# Assignment values are short and human-written, so they get the fuller list.
_PLACEHOLDER_RX = re.compile(
    r"(?i)example|placeholder|redacted|changeme|change[_-]me|dummy|replace[_-]?me|insert[_-]"
    r"|^your|your[_\- ]|[_\- ]here\b|^fake|anonymous|x{4}|\*{3}|\.{3}|\u2022"
    r"|<|>|\$\{|\{\{|%[a-z_]+%"
)
_PLACEHOLDER_WORDS = frozenset(
    """changeme password passwd pass pwd secret token key apikey api_key none null nil
    undefined true false yes no on off redacted hidden masked example placeholder dummy test
    testing todo tbd fixme string str bytes int bool any object optional required default
    empty value foo bar baz foobar qwerty mysecret mypassword secretstr sample abc xyz
    abc123 anonymous guest""".split()
)
# Values that are code, not literals: keywords and type names.
_CODE_WORDS = frozenset(
    """none null nil undefined true false self this str string bytes int bool any object
    optional required secretstr text varchar char input getpass prompt env environ""".split()
)
_IDENT_RX = re.compile(r"[A-Za-z_$][\w$]*\Z")
_DOTTED_RX = re.compile(r"[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)+\Z")
_CAMEL_OR_SNAKE_RX = re.compile(r"_|[a-z][A-Z]|^[A-Z0-9_]+\Z")
_KEYWORDISH_RX = re.compile(r"(?i)pass|pwd|secret|token|key|auth|cred")
_WORDS_RX = re.compile(r"[a-z]+(?:[-_. ][a-z]+)+[-_]?\d{0,4}\Z")
_TEMPLATE_RX = re.compile(r"\{[^}]*\}|%\(\w*\)[sd]|%[sd]\b|\$\w|\$\(")
_PATH_RX = re.compile(r"(?:~|\.{1,2}|[A-Za-z]:)?[/\\](?:[\w.-]+[/\\])*[\w.-]*\Z")
_PROSE_RX = re.compile(
    r"(?i)\b(?:enter|your|the|please|must|should|required|invalid|incorrect|wrong|confirm"
    r"|forgot|reset|is|are|not)\b"
)
_HIGH_ENTROPY_CHARS_RX = re.compile(r"[A-Za-z0-9+/_.~-]+={0,3}\Z")
_HEX_RX = re.compile(r"[0-9a-fA-F]+\Z")
_NUMBER_RX = re.compile(r"[\d.:+-]+\Z")
_UUID_RX = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}\Z")
_AWS_SECRET_RX = re.compile(r"[A-Za-z0-9/+]{40}\Z")


# Character tests as regex searches: they run in C, which matters for long values.
_has_lower = re.compile(r"[a-z]").search
_has_upper = re.compile(r"[A-Z]").search
_has_digit = re.compile(r"[0-9]").search
_has_alpha = re.compile(r"[A-Za-z]").search
_has_space = re.compile(r"\s").search


def _char_classes(v: str) -> int:
    return bool(_has_lower(v)) + bool(_has_upper(v)) + bool(_has_digit(v))


def _token_ok(v: str) -> bool:
    """A self-identifying token (prefix already matched) that is not a stand-in."""
    return (
        _TOKEN_PLACEHOLDER_RX.search(v) is None
        and _char_classes(v) >= 2
        and shannon_entropy(v) >= 3.0
    )


def _is_placeholder(v: str) -> bool:
    s = v.strip()
    if not s or s[0] in "$%<{[#":
        return True
    low = s.lower()
    if low.rstrip("0123456789!._-") in _PLACEHOLDER_WORDS or len(set(low)) <= 2:
        return True  # "password1", "changeme123", "xxxx"
    if _PLACEHOLDER_RX.search(s):
        return True
    if _WORDS_RX.match(s) and _KEYWORDISH_RX.search(s):
        return True  # a description, not a value: "role-secret-key", "no-password-required"
    # An identifier naming a credential is a variable or env-var name, not its value:
    # YOUR_API_KEY, db_password, apiKey. ("mysecretpassword" and random text stay values.)
    return bool(
        _IDENT_RX.match(s)
        and _KEYWORDISH_RX.search(s)
        and _CAMEL_OR_SNAKE_RX.search(s)
        and not _looks_random(s)
    )


_SEGMENT_RX = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])")
_VOWELS = frozenset("aeiouyAEIOUY")


def _wordy(v: str) -> bool:
    """Made of words (snake, kebab, camel, dotted): a name, not machine-generated.

    Random text splits into short fragments or one long run; names split into a few
    pronounceable words of 3-15 letters that cover most of the value.
    """
    words = sum(
        len(w) for w in _SEGMENT_RX.findall(v) if 3 <= len(w) <= 15 and not _VOWELS.isdisjoint(w)
    )
    return words >= 0.7 * sum(map(str.isalnum, v))


def _looks_random(v: str) -> bool:
    """Machine-generated rather than a name: long, mixed, with digits, not words."""
    return (
        len(v) >= 12
        and _has_digit(v) is not None
        and _char_classes(v) >= 2
        and shannon_entropy(v) >= 3.0
        and not _wordy(v)
    )


def _high_entropy(v: str) -> bool:
    n = len(v)
    if n < 16 or _HIGH_ENTROPY_CHARS_RX.match(v) is None:
        return False
    if _HEX_RX.match(v) or _UUID_RX.match(v) or _DOTTED_RX.match(v) or _wordy(v):
        return False  # hashes, ids, names: not credentials without a stronger key
    if _has_digit(v) is None or _has_alpha(v) is None:
        return False
    # Random text approaches log2(n) up to ~5 bits; names, paths and enum constants
    # ("AWS_EC2_INSTANCE", "my-app/22a0-stage.war") fall short.
    return shannon_entropy(v) >= min(0.85 * math.log2(n), 4.5)


# --- self-identifying tokens -----------------------------------------------------------

_TOKEN_PATTERNS: dict[str, str] = {
    "anthropic_api_key": r"sk-ant-[a-z]{2,8}\d{2}-[A-Za-z0-9_-]{20,400}",
    "openai_api_key": r"sk-(?:proj-|svcacct-|admin-|None-)?[A-Za-z0-9_-]{20,400}",
    "stripe_key": r"[sr]k_(?:live|test)_[A-Za-z0-9]{20,250}",
    "aws_access_key_id": r"(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}(?![A-Za-z0-9])",
    "google_api_key": r"AIza[0-9A-Za-z_-]{35}(?![A-Za-z0-9_-])",
    "github_token": r"gh[pousr]_[A-Za-z0-9]{36,251}|github_pat_[A-Za-z0-9_]{22,251}",
    "gitlab_token": r"glpat-[A-Za-z0-9_-]{20,64}",
    "huggingface_token": r"hf_[A-Za-z0-9]{30,40}(?![A-Za-z0-9])",
    "npm_token": r"npm_[A-Za-z0-9]{36}(?![A-Za-z0-9])",
    "pypi_token": r"pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50,1000}",
    "slack_token": r"xox[abposre]-[A-Za-z0-9-]{10,250}|xapp-\d-[A-Za-z0-9-]{10,250}",
    "jwt": r"eyJ[A-Za-z0-9_-]{5,2048}\.e[wy][A-Za-z0-9_-]{5,8192}\.[A-Za-z0-9_-]{10,2048}",
}
_TOKEN_RX = {kind: re.compile(p) for kind, p in _TOKEN_PATTERNS.items()}
# For values found by a context rule (assignment, Bearer, URL): is the whole value a token?
_TOKEN_FULL_RX = re.compile("|".join(f"(?P<{k}>{p})" for k, p in _TOKEN_PATTERNS.items()))


def _jwt_ok(v: str) -> bool:
    head = v.split(".", 1)[0]
    try:
        raw = base64.urlsafe_b64decode(head + "=" * (-len(head) % 4))
    except (binascii.Error, ValueError):
        return False
    return raw.startswith(b"{") and any(k in raw for k in (b'"alg"', b'"typ"', b'"kid"'))


def _token_valid(kind: str, v: str) -> bool:
    if kind == "jwt":
        return _jwt_ok(v)
    if kind == "aws_access_key_id":
        return "EXAMPLE" not in v and shannon_entropy(v) >= 3.0
    return _token_ok(v)


def _token_kind(value: str) -> str | None:
    """The token kind if ``value`` is exactly one self-identifying token."""
    m = _TOKEN_FULL_RX.fullmatch(value)
    if m is None or m.lastgroup is None or not _token_valid(m.lastgroup, value):
        return None
    return m.lastgroup


def _token_handler(kinds: tuple[str, ...], back: int) -> _Handler:
    """Confirm a token whose anchor sits ``back`` characters after its first character."""
    rxs = [(k, _TOKEN_RX[k]) for k in kinds]

    def handle(text: str, m: re.Match[str], runs: _Runs) -> _Hit | None:
        start = m.start() - back
        for kind, rx in rxs:
            t = rx.match(text, start)
            if t is not None and _token_valid(kind, t.group()):
                return kind, start, t.end()
        return None

    return handle


_WEBHOOK_RX = re.compile(
    r"hooks\.slack\.com/(?P<v>(?:services|workflows|triggers)/[A-Za-z0-9_/+-]{20,300})"
)


def _webhook(text: str, m: re.Match[str], runs: _Runs) -> _Hit | None:
    w = _WEBHOOK_RX.match(text, m.start() - 3)
    if w is None or _TOKEN_PLACEHOLDER_RX.search(w.group("v")):
        return None
    return "slack_webhook", w.start("v"), w.end("v")


_PEM_HEAD_RX = re.compile(r"-----BEGIN[ A-Z0-9]{0,40}PRIVATE KEY(?: BLOCK)?-----")
_PEM_TAIL_RX = re.compile(r"-----END[ A-Z0-9]{0,40}PRIVATE KEY(?: BLOCK)?-----")
# Between BEGIN and END: base64 lines, headers (Proc-Type: 4,ENCRYPTED), and newlines that
# may be escaped ("\n" in a JSON string).
_PEM_BODY_RX = re.compile(r"[A-Za-z0-9+/=\s:,._\\-]*")
# With no END in sight (the text was cut off): optional headers, then whole base64 lines
# only, so the redaction stops where the key stops rather than running into prose.
_PEM_CUT_RX = re.compile(
    r"(?:\r?\n|\\r?\\n)"
    r"(?:[A-Za-z][A-Za-z-]{0,31}: ?[^\r\n\\]{0,128}(?:\r?\n|\\r?\\n)){0,4}"
    r"(?:[A-Za-z0-9+/=]{1,128}(?:\r?\n|\\r?\\n|\Z)){1,1024}"
)
_PEM_MIN_BODY_RX = re.compile(r"[A-Za-z0-9+/]{40}")
_PEM_MAX = 65536


def _pem(text: str, m: re.Match[str], runs: _Runs) -> _Hit | None:
    head = _PEM_HEAD_RX.match(text, m.start())
    if head is None:
        return None
    body_start = head.end()
    dashes = text.find("-----", body_start, body_start + _PEM_MAX)
    tail = None if dashes == -1 else _PEM_TAIL_RX.match(text, dashes)
    if tail is not None and _PEM_BODY_RX.fullmatch(text, body_start, dashes):
        end = tail.end()
    else:
        cut = _PEM_CUT_RX.match(text, body_start)
        if cut is None:
            return None
        end = cut.end()
        while end > body_start and text[end - 1] in "\r\n":
            end -= 1  # the block, not the line break after it
    body = text[body_start:end]
    if _PEM_MIN_BODY_RX.search(body) is None:
        return None  # a BEGIN marker quoted in code or docs, with no key after it
    if _TOKEN_PLACEHOLDER_RX.search(body):
        return None  # an elided or EXAMPLE key from documentation
    return "private_key", head.start(), end


# --- secrets recognised by their context -----------------------------------------------

# A value after a separator. The body of a quoted value stops at its quote or a newline;
# a missing closing quote (text cut off upstream) still counts. 4096 covers the longest
# credentials seen in env files (AWS session tokens run to ~1,000 characters).
_MAX_VALUE = 4096
_BARE = r"""[^\s"'`\\,;&|(){}\[\]<>]"""
_VALUE_RX = re.compile(
    r"""
      \\["'](?P<ev>[^"'\\\r\n]{1,4096})               # escaped quote: JSON inside a string
    | "(?P<dv>(?:[^"\\\r\n]|\\[^\r\n]){1,4096})
    | '(?P<sv>[^'\\\r\n]{1,4096})
    | `(?P<tv>[^`\\\r\n]{1,4096})
    | (?P<bv>(?!=)"""
    + _BARE
    + r"""{1,4096})
    """,
    re.X,
)
_BARE_RUN_RX = re.compile(_BARE + "*")
_ENV_VALUE_RX = re.compile(r"""[^\s"'`=][^\s"'`]{0,4095}""")
_ENV_PREFIXES = frozenset({"export", "set", "env", "arg"})
_CALL_RX = re.compile(r"[A-Za-z_$][\w.$]*[(\[]")  # getpass(), os.environ[...]
_MAX_NESTED = 3

# After a key name: its closing quote (JSON, dicts; "]" for $config['password']), then the
# separator. Whitespace around it is kept: `password = hunter2` is code, not an env file.
_ASSIGN_RX = re.compile(
    r"""(?P<kq>\\?["']\]?)?(?P<pre>[ \t]{0,8})(?P<sep>:=|=>|[=:])(?P<post>[ \t]{0,8})"""
)
_AWS_SPACE_RX = re.compile(r"[ \t,]{1,4}(?P<v>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])")
_SCHEME_TOKEN_RX = re.compile(
    r"(?P<scheme>(?i:bearer|basic|token))[ \t]+(?P<v>[A-Za-z0-9._~+/-]{8,4096}={0,3})"
)
_KW = r"pass(?:word|wd|phrase)?|pwd|secret|token|key|credentials?|creds|auth"
_CLI_RX = re.compile(r"--(?P<name>(?:[A-Za-z0-9]{1,30}-){0,3}(?i:" + _KW + r"))(?:=|[ \t]{1,8})")
_URL_RX = re.compile(r"://(?P<user>[^\s:/@'\"<>]{0,128}):(?P<v>[^\s/@'\"<>]{1,256})@")
_AUTH_RX = re.compile(r"(?P<scheme>(?i:bearer|basic))[ \t]+(?P<v>[A-Za-z0-9._~+/-]{8,4096}={0,3})")

_KEY_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-")
# Names whose value may be human-chosen, like a password.
_SECRET_KEY_SUFFIXES = ("secret", "secretkey", "credential", "credentials", "creds")
# Names whose value is machine-issued, so a word or a field name is not it.
_TOKEN_KEY_SUFFIXES = (
    "token",
    "auth",
    "authorization",
    *(
        p + "key"
        for p in "api access secret private signing encryption master client app auth service"
        " account admin consumer subscription license webhook hmac deploy storage".split()
    ),
)
# Names ending in a credential word whose values are not credentials.
_NOT_SECRET_SUFFIXES = (
    "publickey",
    "publishablekey",
    "pubkey",
    "primarykey",
    "foreignkey",
    "sortkey",
    "partitionkey",
    "rangekey",
    "cachekey",
    "idempotencykey",
    "objectkey",
    "routingkey",
    "hotkey",
    "groupkey",
    "s3key",
    "resultkey",
    "limitkey",
)
# Tokens that page, order or deduplicate requests, or are a tokenizer's special tokens.
_NOT_SECRET_TOKEN_RX = re.compile(
    r"(?:next|page|pagination|continuation|sync|cursor|sequence|forward|backward|client"
    r"|idempotency|change|starting|lock|input|output|max|num|bos|eos|pad|unk|sep|cls|mask)"
    r"tokens?\Z"
)
_DB_SCHEMES = (
    "postgres",
    "mysql",
    "mariadb",
    "mongodb",
    "redis",
    "rediss",
    "amqp",
    "mssql",
    "sqlserver",
    "oracle",
    "jdbc",
    "clickhouse",
    "cockroach",
    "snowflake",
    "neo4j",
    "couchdb",
    "cassandra",
    "memcached",
    "elasticsearch",
    "db2",
)


def _key_name(text: str, end: int) -> tuple[str, int]:
    """The identifier ending at ``end`` (``OPENAI_API_KEY`` for a hit on ``KEY``), and its start."""
    i, lo = end, max(0, end - 64)
    while i > lo and text[i - 1] in _KEY_CHARS:
        i -= 1
    while i < end and text[i] in "-.":
        i += 1
    return text[i:end], i


@lru_cache(maxsize=1024)
def _family(name: str) -> str | None:
    """Which rules a value under this key name is judged by."""
    low = name.lower()
    norm = "".join(c for c in low if c.isalnum())
    if norm.endswith(("password", "passwd", "passphrase")):
        return "password"
    for kw in ("pass", "pwd"):
        if norm.endswith(kw):
            # compass, bypass: the word is "pass" only at a boundary (DB_PASS, dbPass).
            prev = name[-len(kw) - 1] if len(name) > len(kw) else ""
            if prev.islower() and name[-len(kw)].islower():
                return None
            return "password"
    if norm.endswith(_NOT_SECRET_SUFFIXES) or _NOT_SECRET_TOKEN_RX.search(norm):
        return None
    if "secretaccesskey" in norm or ("aws" in norm and "secret" in norm):
        return "aws"
    if norm.endswith(_SECRET_KEY_SUFFIXES):
        return "secret"
    if norm.endswith(_TOKEN_KEY_SUFFIXES):
        return "token"
    if norm.endswith(("key", "cookie")):
        return "entropy"
    return None


def _parse_value(text: str, at: int, runs: _Runs) -> tuple[int, int, bool] | None:
    """The value starting at ``at``: (start, end, quoted), or None if absent or too long.

    A value that runs into the length bound is data, not a credential. Quoted values
    cannot nest (a new quote ends the run), but bare ones can: in "key=key=key=..." every
    "key" starts a value running to the same end. So the end of each bare run is found
    once, candidates that would exceed the bound are rejected without a scan, and at most
    ``_MAX_NESTED`` candidates ending at the same place are judged. This keeps adversarial
    text linear with a small constant.
    """
    run = runs.get("bv")
    if run is not None and run[0] <= at < run[1]:
        end = min(at + _MAX_VALUE, run[1])
        if end - at >= _MAX_VALUE or run[2] >= _MAX_NESTED or text[at] == "=":
            return None
        runs["bv"] = (run[0], run[1], run[2] + 1)
        return at, end, False
    v = _VALUE_RX.match(text, at)
    if v is None:
        return None
    g = v.lastgroup or "bv"
    start, end = v.span(g)
    if g == "bv":
        runs["bv"] = (start, _BARE_RUN_RX.match(text, start).end(), 1)
    if end - start >= _MAX_VALUE:
        return None
    return start, end, g != "bv"


def _rest_of_line_empty(text: str, i: int) -> bool:
    n = len(text)
    while i < n and text[i] in " \t":
        i += 1
    return i >= n or text[i] in "\r\n#\"'" or text.startswith("\\n", i)


_CODE_FOLLOWERS = frozenset(",)=<>!+*/%|^?")


def _next_code_char(text: str, i: int) -> str:
    """The next non-blank character within a short window (kwargs continue on new lines)."""
    for c in text[i : i + 64]:
        if not c.isspace():
            return c
    return ""


def _value_ok(
    family: str, name: str, v: str, quoted: bool, spaced: bool, sep: str, text: str, end: int
) -> bool:
    """Is ``v`` (found under the credential-like key ``name``) a literal secret?

    ``sep`` is the separator seen, or "env" for a ``NAME=value`` line of an env file.
    Structural checks come first: they are cheap and reject most candidates.
    """
    min_len = 4 if family == "password" else 8
    if len(v) < min_len:
        return False
    if quoted:
        if _TEMPLATE_RX.search(v):
            return False  # f"{x}", "%s", "$VAR": filled in by code
        if _has_space(v) and (family != "password" or _PROSE_RX.search(v)):
            return False  # a label or a sentence, not a key
    else:
        if sep == ":" and (not spaced or not _rest_of_line_empty(text, end)):
            # YAML and headers put a space after the colon and end the line with the
            # value; "Password: must be 8 characters" and "passwd:dir" are not that.
            return False
        if text[end : end + 1] in ("(", "[") or _DOTTED_RX.match(v) or v.lower() in _CODE_WORDS:
            return False  # a call, subscript, attribute or keyword: code
        if sep != "env" and _IDENT_RX.match(v) and not _looks_random(v):
            if (spaced and sep != ":") or _next_code_char(text, end) in _CODE_FOLLOWERS:
                return False  # `password = hunter2`, `f(password=pw)`, `x=y == 0`: code
    if _is_placeholder(v) or "://" in v or "-----BEGIN" in v or v.startswith((".", "arn:")):
        return False
    low, key = v.lower(), name.lower()
    if (len(low) >= 3 and low in key) or (len(key) >= 6 and key in low):
        return False  # `password=password`, `x_auth=x_auth`, ".../IAMUserChangePassword"
    if _PATH_RX.match(v) and shannon_entropy(v) < 4.3:
        return False  # PWD=/home/me, key: ~/.ssh/id_rsa (a random key is higher entropy)
    if family == "password":
        return True
    if _has_space(v) or _NUMBER_RX.match(v) or shannon_entropy(v) < 2.5:
        return False  # keys have no spaces; timestamps, counters and versions are not keys
    if family in ("secret", "aws"):
        # Human-chosen is fine, but not a phrase like "Access-Control-Allow-Credentials".
        return _has_digit(v) is not None or not _wordy(v)
    if family == "token":
        if _HEX_RX.match(v) and len(v) < 32:
            return False  # short hex: a hash or an id
        if _UUID_RX.match(v) and key.endswith("token"):
            return False  # lock, change and idempotency tokens are UUIDs; API keys may be
        return not _wordy(v) and (_has_digit(v) is not None or _high_entropy(v))
    return _high_entropy(v)


def _judge(
    family: str, name: str, text: str, start: int, end: int, quoted: bool, spaced: bool, sep: str
) -> _Hit | None:
    v = text[start:end]
    s = _SCHEME_TOKEN_RX.match(text, start)
    if s is not None and (s.end() <= end if quoted else s.end("scheme") == end):
        # "Authorization: Bearer <token>": the secret is the token after the scheme.
        return _scheme_hit(s)
    kind = _token_kind(v)
    if kind is not None:
        return kind, start, end
    if family == "aws" and _AWS_SECRET_RX.match(v) and _token_ok(v):
        return "aws_secret_access_key", start, end
    if not _value_ok(family, name, v, quoted, spaced, sep, text, end):
        return None
    return _FAMILY_KIND[family], start, end


_FAMILY_KIND = {
    "password": "password_assignment",
    "secret": "generic_api_key_assignment",
    "token": "generic_api_key_assignment",
    "aws": "generic_api_key_assignment",
    "entropy": "high_entropy_assignment",
}


def _scheme_hit(s: re.Match[str]) -> _Hit | None:
    v = s.group("v")
    start, end = s.span("v")
    if s.group("scheme").lower() == "basic":
        try:
            raw = base64.b64decode(v, validate=True)
        except (binascii.Error, ValueError):
            return None
        ok = b":" in raw and raw.isascii() and not _is_placeholder(v)
        return ("basic_auth", start, end) if ok else None
    kind = _token_kind(v)
    if kind is not None:
        return kind, start, end
    if _TOKEN_PLACEHOLDER_RX.search(v) or _is_placeholder(v) or not _looks_random(v):
        return None
    return "bearer_token", start, end


def _keyword(text: str, m: re.Match[str], runs: _Runs) -> _Hit | None:
    kw_end = m.end()
    name, name_start = _key_name(text, kw_end)
    family = _family(name)
    if family is None:
        return None
    a = _ASSIGN_RX.match(text, kw_end)
    if a is None:
        if family == "aws":  # `aws configure set aws_secret_access_key <value>`
            w = _AWS_SPACE_RX.match(text, kw_end)
            if w is not None and _token_ok(w.group("v")):
                return "aws_secret_access_key", w.start("v"), w.end("v")
        return None
    before = text[max(0, name_start - 8) : name_start]
    if before.endswith("::") or before.rstrip("-.").endswith("]"):
        # "AWS::AppSync::ApiKey" is a type name; "[REDACTED:x]_key" the tail of a name
        # whose head was redacted (keeps redaction idempotent).
        return None
    opener = text[name_start - 1 : name_start]
    if opener in ("'", '"'):
        if not a.group("kq") and text[a.end() : a.end() + 1] == opener:
            return None  # `"password:" prompt`: the quote after the colon closes the string
        if text[max(0, name_start - 4) : name_start - 1].rstrip().endswith("?"):
            return None  # `ok ? "PASS" : "FAIL"`: a conditional, not a JSON member
    spaced = bool(a.group("pre") or a.group("post"))
    if a.group("sep") == "=" and not spaced and _is_env_line(text, name_start):
        # dotenv / shell / Dockerfile: the value is everything up to whitespace, so that
        # DB_PASSWORD=Tr0ub4dor&3x is redacted whole.
        e = _ENV_VALUE_RX.match(text, a.end())
        if e is None or e.end() - e.start() >= _MAX_VALUE or _CALL_RX.match(e.group()):
            return None
        return _judge(family, name, text, e.start(), e.end(), False, False, "env")
    value = _parse_value(text, a.end(), runs)
    if value is None:
        return None
    start, end, quoted = value
    return _judge(family, name, text, start, end, quoted, spaced, a.group("sep"))


def _is_env_line(text: str, name_start: int) -> bool:
    """``NAME=value`` at the start of a line, or after export/set/ENV/ARG (not indented
    code such as ``    key_password=None,``)."""
    line_start = text.rfind("\n", max(0, name_start - 16), name_start) + 1
    if line_start == 0 and name_start > 16:
        return False
    prefix = text[line_start:name_start]
    return prefix == "" or prefix.strip().lower() in _ENV_PREFIXES and prefix.endswith(" ")


def _cli(text: str, m: re.Match[str], runs: _Runs) -> _Hit | None:
    c = _CLI_RX.match(text, m.start())
    family = None if c is None else _family(c.group("name"))
    value = None if c is None or family is None else _parse_value(text, c.end(), runs)
    if c is None or family is None or value is None:
        return None
    start, end, quoted = value
    v = text[start:end]
    if family == "password" and not quoted and v.isalpha() and v.islower():
        return None  # "the --username and --password options"
    return _judge(family, c.group("name"), text, start, end, quoted, False, "=")


def _url(text: str, m: re.Match[str], runs: _Runs) -> _Hit | None:
    u = _URL_RX.match(text, m.start())
    if u is None:
        return None
    v = u.group("v")
    start, end = u.span("v")
    kind = _token_kind(v)
    if kind is not None:
        return kind, start, end
    plain = unquote(v)
    if _is_placeholder(plain) or plain.lower() in ("pass", "pwd", "user") or _TEMPLATE_RX.search(v):
        return None
    if len(plain) < 4 or ":" in v:
        return None  # "cvs://:pserver:anon@", multi-host "h:123,h2:pw@": not a password
    i = j = m.start()
    while j > max(0, i - 32) and (text[j - 1].isalnum() or text[j - 1] in "+.-"):
        j -= 1
    db = text[j:i].lower().startswith(_DB_SCHEMES)
    return ("database_url_password" if db else "url_password"), start, end


def _auth_scheme(text: str, m: re.Match[str], runs: _Runs) -> _Hit | None:
    s = _AUTH_RX.match(text, m.start())
    return None if s is None else _scheme_hit(s)


# --- the trigger regex -----------------------------------------------------------------

# Lookahead for "key = ", "key: ", '"key": ', "key := ", "key => ".
_SEP = r"""(?=(?:\\?["']\]?)?[ \t]{0,8}(?::=|=>|[=:]))"""
_AWS_SPACE = r"(?=[ \t,]{1,4}[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=]))"
_NOT_WORD = r"[A-Za-z0-9_-]"


def _cased(anchor: str, rest: str) -> list[str]:
    # Both cases as separate literal-first alternatives: a character class as the first
    # item would switch off the engine's first-character skip for the whole regex.
    return [anchor.lower() + rest, anchor.upper() + rest]


_TRIGGERS: list[tuple[list[str], _Handler]] = [
    # "sk-" / "sk_live_" / "rk_live_": anchored on the k.
    (
        [rf"k(?<=[sr]k)(?<!{_NOT_WORD}[sr]k)(?:-[A-Za-z0-9]|_(?:live|test)_)"],
        _token_handler(("anthropic_api_key", "openai_api_key", "stripe_key"), 1),
    ),
    (
        [r"A(?<![A-Za-z0-9/+_-]A)(?:KIA|SIA|BIA|CCA|Iza)"],
        _token_handler(("aws_access_key_id", "google_api_key"), 0),
    ),
    ([rf"_(?<=gh[pousr]_)(?<!{_NOT_WORD}gh._)"], _token_handler(("github_token",), 3)),
    ([rf"_(?<=github_)(?<!{_NOT_WORD}github_)pat_"], _token_handler(("github_token",), 6)),
    ([rf"-(?<=glpat-)(?<!{_NOT_WORD}glpat-)"], _token_handler(("gitlab_token",), 5)),
    ([rf"_(?<=hf_)(?<!{_NOT_WORD}hf_)"], _token_handler(("huggingface_token",), 2)),
    ([rf"_(?<=npm_)(?<!{_NOT_WORD}npm_)"], _token_handler(("npm_token",), 3)),
    ([rf"p(?<!{_NOT_WORD}p)ypi-AgE"], _token_handler(("pypi_token",), 0)),
    ([rf"x(?<!{_NOT_WORD}x)(?:ox[abposre]|app)-"], _token_handler(("slack_token",), 0)),
    ([rf"J(?<=eyJ)(?<!{_NOT_WORD}eyJ)"], _token_handler(("jwt",), 2)),
    ([r"k(?<=hook)s\.slack\.com/"], _webhook),
    ([r"-----BEGIN "], _pem),
    (
        [rf"-(?<!{_NOT_WORD}-)-(?:[A-Za-z0-9]{{1,30}}-){{0,3}}(?i:{_KW})(?:=|[ \t]+[^\s-])"],
        _cli,
    ),
    ([r""":(?<=[A-Za-z0-9]:)//(?=[^\s:/@'"<>]{0,128}:[^\s/@'"<>]{1,256}@)"""], _url),
    (_cased("b", rf"(?<!{_NOT_WORD}.)(?i:earer|asic)[ \t]"), _auth_scheme),
    # Credential-like key names, each anchored on its rarest letter.
    (_cased("p", r"(?i:ass(?:word|wd|phrase)?|wd)" + _SEP), _keyword),
    (
        _cased("k", r"(?:(?<=[tT][oO].)(?i:en)|(?<=[cC][oO]{2}.)(?i:ie))" + _SEP),
        _keyword,
    ),
    (_cased("k", r"(?i:ey)(?:" + _SEP + "|" + _AWS_SPACE + ")"), _keyword),
    (_cased("c", r"(?:(?<=[sS][eE].)(?i:ret)|(?i:red(?:ential)?s?))" + _SEP), _keyword),
    (_cased("u", r"(?<=[aA].)(?i:th(?:orization)?)" + _SEP), _keyword),
]

_ALTERNATIVES = [(alt, h) for alts, h in _TRIGGERS for alt in alts]
# Each alternative ends in an empty group, so `m.lastindex` names the alternative.
# Registered with the compiled multi-pattern matcher: a text with no trigger costs one pass of that
# (shared with the detectors' patterns) instead of this regex.
_TRIGGER_RX = textscan.compile("|".join(f"{alt}()" for alt, _ in _ALTERNATIVES))


def _by_anchor(alternatives: list[str], order: str, mark: bool) -> tuple[re.Pattern[str], list[int]]:
    """One regex that matches where one of ``alternatives`` does, and which alternative each of its empty
    groups stands for (``mark``: each alternative ends in one, so ``m.lastindex`` names it).

    The alternatives that begin with the same literal character become one branch of ``char(?:rest|rest)``,
    the branches in the order of ``order`` (then the rest): at a position whose character is an anchor the
    engine tries each branch's first character in turn, so fewer branches, the commonest anchors first, cost
    fewer steps per position. Neither change moves a match: the alternatives that can match at a position all
    begin with that position's character, so they are in one branch, in their own order, and the alternation
    picks the same one there as the ungrouped ``a|b|c...`` does.
    """
    groups: dict[str, list[tuple[int, str]]] = {}
    for i, alternative in enumerate(alternatives):
        if alternative[0] in "\\()[]{}|?*+.^$" or alternative[1:2] in ("*", "+", "?", "{"):
            raise ValueError(f"trigger alternative does not begin with a literal: {alternative!r}")
        groups.setdefault(alternative[0], []).append((i, alternative[1:] + ("()" if mark else "")))
    anchors = sorted(groups, key=lambda c: order.index(c) if c in order else len(order))
    branches = []
    named: list[int] = []
    for c in anchors:
        rests = [rest for _, rest in groups[c]]
        branches.append(re.escape(c) + (rests[0] if len(rests) == 1 else "(?:" + "|".join(rests) + ")"))
        named += [i for i, _ in groups[c]]
    return re.compile("|".join(branches)), named


# Whether a text may contain a secret (may_contain_secret, redact): the trigger regex's answer, 10-15% cheaper
# on prose. The SDK's content path asks about each text once and alone, with no detector sharing the compiled
# matcher's scan of it: there plain ``re`` costs less CPU (bench/sdk_overhead.py, Anthropic and Responses
# calls with texts up to 1.9 KB: 3-13% more overhead per call through the matcher, none this way). The anchors
# in the order of their letters' frequency in English text, then punctuation, then capitals.
_ANCHOR_ORDER = "cupbk-:x_CPBUKAJ"
_TRIGGER_ANY = _by_anchor([alt for alt, _ in _ALTERNATIVES], _ANCHOR_ORDER, mark=False)[0]
# The search loop of a text _TRIGGER_RX may match: the same matches, each naming its alternative, ~18% less
# CPU than _TRIGGER_RX's own regex (which stays the one registered: grouped, the lookbehinds that make its
# loosened form selective would sit inside groups, where the loosening drops them).
_TRIGGER_SEARCH, _SEARCH_NAMES = _by_anchor([alt for alt, _ in _ALTERNATIVES], _ANCHOR_ORDER, mark=True)
_HANDLERS: list[_Handler] = [h for _, h in _ALTERNATIVES]
_SEARCH_HANDLERS: list[_Handler] = [_HANDLERS[i] for i in _SEARCH_NAMES]  # by _TRIGGER_SEARCH's group

# Other occurrences of a found secret are redacted too (the same password pasted into a
# later sentence). Capped so that a text full of distinct secrets stays linear.
_REPEAT_MIN_LEN = 8
_REPEAT_MAX_VALUES = 32


def _scan(text: str) -> list[_Hit]:
    hits: list[_Hit] = []
    search, handlers = _TRIGGER_SEARCH.search, _SEARCH_HANDLERS
    runs: _Runs = {}
    pos = last_end = 0
    while (m := search(text, pos)) is not None:
        hit = handlers[m.lastindex - 1](text, m, runs)  # type: ignore[operator]
        if hit is not None and hit[1] >= last_end and hit[2] > hit[1]:
            hits.append(hit)
            last_end = hit[2]
            pos = max(hit[2], m.start() + 1)
        else:
            # Rejected: rescan from the next character, so that a secret inside the
            # rejected candidate (a key in a placeholder-looking assignment) is still found.
            pos = m.start() + 1
    return hits


def _add_repeats(text: str, hits: list[_Hit]) -> list[_Hit]:
    values: dict[str, str] = {}
    for kind, s, e in hits:
        v = text[s:e]
        if e - s >= _REPEAT_MIN_LEN and not (_IDENT_RX.match(v) and ("_" in v or "." in v)):
            values.setdefault(v, kind)
    if not values or len(values) > _REPEAT_MAX_VALUES:
        return hits
    starts = [s for _, s, _ in hits]
    extra: list[_Hit] = []
    for value, kind in values.items():
        i = text.find(value)
        while i != -1:
            k = bisect_right(starts, i) - 1
            clear_before = k < 0 or hits[k][2] <= i
            clear_after = k + 1 >= len(hits) or hits[k + 1][1] >= i + len(value)
            if clear_before and clear_after:
                extra.append((kind, i, i + len(value)))
            i = text.find(value, i + len(value))
    if not extra:
        return hits
    merged: list[_Hit] = []
    for hit in sorted(hits + extra, key=lambda h: (h[1], -h[2])):
        if not merged or hit[1] >= merged[-1][2]:
            merged.append(hit)
    return merged


def find_secrets(text: str) -> list[SecretMatch]:
    """Secrets in ``text``: non-overlapping, sorted by start, spans cover the value only."""
    if not text or not _TRIGGER_RX.may_match(text):  # no trigger anywhere: nothing to confirm
        return []
    hits = _scan(text)
    if hits:
        hits = _add_repeats(text, hits)
    return [SecretMatch(kind, s, e) for kind, s, e in hits]


def may_contain_secret(text: str) -> bool:
    """False when ``find_secrets(text)`` is surely empty: no trigger matches (the first stage alone).

    No trigger matches across a line break (nothing in a trigger or its lookarounds matches ``\\n``, and a
    line break before or after a text passes every lookaround just as the text's own start or end does), so
    texts joined with line breaks may contain one only if one of them may.
    """
    return _TRIGGER_ANY.search(text) is not None


def redact(text: str, *, checked: bool = False) -> tuple[str, int]:
    """Replace each secret value with ``[REDACTED:<kind>]``; return the text and the count.

    ``checked``: the caller found ``may_contain_secret(text)`` true already (the trigger search is not repeated).
    """
    if not checked and (not text or _TRIGGER_ANY.search(text) is None):  # what find_secrets would conclude
        return text, 0
    matches = find_secrets(text)
    if not matches:
        return text, 0
    parts: list[str] = []
    pos = 0
    for m in matches:
        parts.append(text[pos : m.start])
        parts.append(f"[REDACTED:{m.kind}]")
        pos = m.end
    parts.append(text[pos:])
    return "".join(parts), len(matches)
