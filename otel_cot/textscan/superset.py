"""A Python regex as a simpler pattern that matches at least everything it matches (a superset), over the
text's ASCII shadow, and the literals one of which every match must contain.

Compiled matchers (Hyperscan, RE2) do not share Python's semantics: no lookarounds or backreferences, ASCII
``\\b`` and classes, their own case folding. Rather than emulate ``re``, the pattern is loosened until
any engine reads it the same way, and used only to *reject* text: a text the loosened pattern cannot
match, the real one cannot match either, so the real regex runs only on the rest and the matches are
exactly ``re``'s.

The loosening, from the parsed pattern (``re._parser``):

- every character atom (a literal, a class, ``\\w``, ``.``) becomes the class of ASCII bytes it matches,
  worked out by asking ``re`` itself about each of the 128 ASCII characters under the atom's flags, plus
  :data:`PLACEHOLDER` when it can match a character outside ASCII. Case-insensitivity is spelled out in
  the classes, so the engines run case-sensitive;
- zero-width assertions (``\\b``, ``^``, ``$``, lookarounds) are dropped, except that a positive
  lookaround of a top-level alternative may stand for text instead (see :class:`Superset`); backreferences
  become "anything", lazy and possessive repeats greedy, atomic groups plain groups, long counted repeats
  unbounded, and a repeat at either end of a top-level alternative shrinks to its minimum count.

The ASCII shadow of a text (:func:`shadow`) has one byte per character: ASCII characters as they are, the
four non-ASCII characters that ``re`` case-folds onto ASCII letters (``İ ı ſ K``) as those letters, every
other character as :data:`PLACEHOLDER`. A match of the real pattern at characters i..j is then a match
of the loosened one at bytes i..j of the shadow.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

try:  # Python 3.11+
    from re import _compiler as _sre_compile  # type: ignore[attr-defined]
    from re import _constants as _sre  # type: ignore[attr-defined]
    from re import _parser as _sre_parse  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - Python 3.10
    import sre_compile as _sre_compile  # type: ignore[no-redef]
    import sre_constants as _sre  # type: ignore[no-redef]
    import sre_parse as _sre_parse  # type: ignore[no-redef]

PLACEHOLDER = ord("?")  # what a non-ASCII character becomes in the shadow (the 'replace' error handler's)
# Non-ASCII characters that IGNORECASE matches against ASCII letters (checked against re in the tests).
CASE_TWINS = {"\u0130": "i", "\u0131": "i", "\u017f": "s", "\u212a": "k"}
_TWINS_TABLE = str.maketrans(CASE_TWINS)

MAX_COUNT = 16  # counted repeats above this are loosened ({2,400} -> {2,}): smaller automata, faster builds
MAX_EXACT = 24  # a node that matches up to this many strings is tracked as that set
MAX_FACTORS = 256


def shadow(text: str) -> bytes:
    """The text as one ASCII byte per character (see the module doc)."""
    if text.isascii():
        return text.encode("ascii")
    if "\u0130" in text or "\u0131" in text or "\u017f" in text or "\u212a" in text:  # CASE_TWINS
        text = text.translate(_TWINS_TABLE)
    return text.encode("ascii", "replace")


@dataclass(frozen=True)
class Superset:
    """The loosened forms of one pattern.

    - ``regex``: matches wherever the text holds what a real match needs (bytes syntax both RE2 and
      Hyperscan read), or None when it would match nearly anything (it matches the empty string, or the
      pattern could not be read): such a pattern is never rejected. A positive lookahead at the end of a
      top-level branch is kept as text to match, and a positive lookbehind at its start as text before
      it, which makes ``(?<=[sr])k`` or ``key(?=\\s*=)`` as selective as the real pattern.
    - ``span_regex``: every real match starting at ``s`` has a match of this one starting at ``s`` (the
      same loosening, lookbehinds dropped), so its match starts bound the real ones; ``span_min_len`` its
      shortest match. ``span_ascii_regex`` is the same with ``\\b`` and ``\\B`` kept, for ASCII text
      (where the shadow is the text and the engines' ASCII word boundaries are ``re``'s). The
      ``*_reversed`` forms match the reversed strings: run over the reversed text, their match ends are
      exactly the starts of the span pattern's matches.
    - ``factors``: literals a match needs, for a prefilter without a compiled engine: one entry per
      top-level branch of the pattern, each a list of clauses, each clause lower-case byte strings one of
      which is in the lowered shadow. A text may match when, for some branch, every clause has a string
      in it. None when some branch needs no literal.
    """

    regex: str | None
    factors: tuple[tuple[tuple[bytes, ...], ...], ...] | None
    span_regex: str | None = None
    span_min_len: int = 0
    span_ascii_regex: str | None = None
    span_reversed: str | None = None
    span_ascii_reversed: str | None = None
    parts: tuple[str, ...] = ()  # ``regex``'s top-level alternatives (an engine may prefer them apart)


class _Unsupported(Exception):
    pass


def loosen(pattern: re.Pattern[str]) -> Superset:
    """The loosened forms of ``pattern`` (a compiled ``str`` pattern)."""
    if not isinstance(pattern.pattern, str):
        return Superset(None, None)
    try:
        parsed = _sre_parse.parse(pattern.pattern, pattern.flags & ~re.DEBUG)
        flags = parsed.state.flags
        node = _Translator(lookahead=True, lookbehind=True).seq(parsed.data, flags, top=True)
        span = _Translator(lookahead=True, lookbehind=False, rarest=True).seq(parsed.data, flags, top=True)
        bounded = _Translator(lookahead=True, lookbehind=False, ascii_bounds=True, rarest=True).seq(
            parsed.data, flags, top=True)
    except Exception:  # a construct this module does not know: the pattern is never rejected
        return Superset(None, None)
    if node.min_len == 0 or span.min_len == 0:  # matches the empty string: every text
        return Superset(None, None)
    parts = tuple(b.regex for b in node.branches) if node.branches else (node.regex,)
    return Superset(node.regex, _factors(node), span.regex, span.min_len, bounded.regex, span.rev, bounded.rev,
                    parts)


Clause = frozenset  # of lowered byte strings, one of which every match contains


@dataclass
class _Node:
    regex: str
    min_len: int
    exact: frozenset[bytes] | None  # the lowered strings it matches, when few
    clauses: tuple[Clause, ...] = ()  # every match satisfies all of them (the most selective first)
    branches: tuple["_Node", ...] = ()  # a top-level alternation's branches
    least: "_Node | None" = None  # a repeat at its minimum count (``a{2,}`` -> ``a{2}``)
    reverse: str | None = None  # the regex matching the reversed strings (None: ``regex`` itself)
    odds: float = 1.0  # how likely a match is to start at a given place of ordinary text (see _FREQUENCY)

    @property
    def rev(self) -> str:
        return self.regex if self.reverse is None else self.reverse


_EMPTY = _Node("", 0, frozenset({b""}))
_BOUNDS = {_sre.AT_BOUNDARY: "\\b", _sre.AT_UNI_BOUNDARY: "\\b", _sre.AT_NON_BOUNDARY: "\\B",
           _sre.AT_UNI_NON_BOUNDARY: "\\B"}
MAX_CLAUSES = 3


def _score(clause: Clause | None) -> tuple[int, int]:
    if not clause:
        return (-1, 0)
    return (min(min(len(f) for f in clause), 6), -len(clause))


def _useful(clause: Clause | None) -> bool:
    return bool(clause) and min(len(f) for f in clause) >= 2 and len(clause) <= MAX_FACTORS  # type: ignore[arg-type]


def _own_clauses(node: _Node) -> tuple[Clause, ...]:
    """The node's clauses, with its exact set as one more when that is better."""
    clauses = list(node.clauses)
    if node.exact is not None and _useful(node.exact):
        clauses.append(node.exact)
    return _best_clauses(clauses)


def _best_clauses(clauses: list[Clause]) -> tuple[Clause, ...]:
    unique = {c for c in clauses if _useful(c)}
    return tuple(sorted(unique, key=lambda c: (_score(c), sorted(c)), reverse=True)[:MAX_CLAUSES])


def _factors(node: _Node) -> tuple[tuple[tuple[bytes, ...], ...], ...] | None:
    out = []
    for branch in node.branches or (node,):
        clauses = _own_clauses(branch)
        if not clauses:
            return None
        out.append(tuple(tuple(sorted(c)) for c in clauses))
    return tuple(out)


class _Translator:
    """``lookahead`` / ``lookbehind``: let a positive lookaround of a top-level branch stand for text
    (see :meth:`seq`). A lookahead keeps the match's start, a lookbehind moves it. ``rarest``: of the two
    forms, keep the one least likely to match at a given place (for start positions, where every place
    it may match costs a try of ``re``), not the longer."""

    def __init__(self, lookahead: bool, lookbehind: bool, ascii_bounds: bool = False, rarest: bool = False) -> None:
        self.lookahead = lookahead
        self.lookbehind = lookbehind
        self.ascii_bounds = ascii_bounds  # keep \b and \B (exact on ASCII text only)
        self.rarest = rarest

    def seq(self, items: Any, flags: int, top: bool = False) -> _Node:
        """A sequence. ``top``: a whole top-level branch (nothing of the pattern before or after it), where
        a positive lookaround may stand for text: ``A(?=X)B`` needs ``AX`` in the text (``B`` dropped),
        ``A(?<=X)B`` needs ``XB`` (``A`` dropped); the longer of that and plain ``AB`` is kept."""
        items = list(items)
        if top and len(items) == 1:
            op, av = items[0]
            if op is _sre.BRANCH:
                return _alternate([self.seq(branch, flags, top=True) for branch in av[1]])
            if op is _sre.SUBPATTERN:
                _group, add, remove, sub = av
                return self.seq(sub, (flags | add) & ~remove, top=True)
        nodes = [self.item(op, av, flags) for op, av in items]
        if not top:
            return _concat(nodes)
        # The match of a top-level branch only has to be somewhere in the text: a repeat at its end can
        # shrink to its minimum (``X\s*`` needs ``X``, ``\w+X`` needs ``\wX``), which keeps the engine's
        # automata small. At the start only when the match's start does not matter (not for spans).
        trim = self.lookbehind
        best = _concat(_trim(nodes, trim))
        if self.lookahead:
            for i, (op, av) in enumerate(items):
                ahead = _lookahead(op, av)
                if ahead is not None:  # (?=X): the text after A holds X
                    x = _alternate([self.seq(sub, flags) for sub in ahead])
                    ahead_form = _concat(_trim(nodes[:i] + [x], trim))
                    best = _rarer(best, ahead_form) if self.rarest else _longer(best, ahead_form)
                    break
        if self.lookbehind:
            for i in range(len(items) - 1, -1, -1):
                op, av = items[i]
                if op is _sre.ASSERT and av[0] == -1:  # (?<=X): X ends where B starts
                    best = _longer(best, _concat(_trim([self.seq(av[1], flags)] + nodes[i + 1:], trim)))
                    break
        return best

    def item(self, op: Any, av: Any, flags: int) -> _Node:
        if op in (_sre.LITERAL, _sre.NOT_LITERAL, _sre.ANY, _sre.IN, _sre.CATEGORY):
            return _atom(op, _freeze(av), flags)
        if op is _sre.SUBPATTERN:
            _group, add, remove, sub = av
            return self.seq(sub, (flags | add) & ~remove)
        if op is _sre.BRANCH:
            return _alternate([self.seq(branch, flags) for branch in av[1]])
        if op in (_sre.MAX_REPEAT, _sre.MIN_REPEAT, getattr(_sre, "POSSESSIVE_REPEAT", None)):
            lo, hi, sub = av
            return _repeat(self.seq(sub, flags), lo, hi)
        if op is getattr(_sre, "ATOMIC_GROUP", None):
            return self.seq(av, flags)
        if op is _sre.AT and self.ascii_bounds and av in _BOUNDS:
            return _Node(_BOUNDS[av], 0, frozenset({b""}))
        if op in (_sre.AT, _sre.ASSERT, _sre.ASSERT_NOT):
            return _EMPTY
        if op is _sre.GROUPREF:
            return _Node("[\\x00-\\x7f]*", 0, None)
        if op is _sre.GROUPREF_EXISTS:
            _group, yes, no = av
            return _alternate([self.seq(yes, flags), self.seq(no, flags) if no is not None else _EMPTY])
        raise _Unsupported(op)


def _lookahead(op: Any, av: Any) -> list[Any] | None:
    """The alternatives ``X`` of a positive lookahead item: ``(?=X)``, or a group of them ``(?:(?=X)|(?=Y))``;
    None for anything else."""
    if op is _sre.ASSERT and av[0] == 1:
        return [av[1]]
    if op is _sre.SUBPATTERN and not av[1] and not av[2] and len(av[3]) == 1:
        return _lookahead(*av[3][0])
    if op is _sre.BRANCH:
        out: list[Any] = []
        for branch in av[1]:
            inner = _lookahead(*branch[0]) if len(branch) == 1 else None
            if inner is None:
                return None
            out.extend(inner)
        return out
    return None


def _freeze(av: Any) -> Any:
    if isinstance(av, list):
        return tuple(_freeze(x) for x in av)
    if isinstance(av, tuple):
        return tuple(_freeze(x) for x in av)
    return av


@lru_cache(maxsize=4096)
def _atom(op: Any, av: Any, flags: int) -> _Node:
    members = _members(op, av, flags)
    if not members:
        return _Node("[^\\x00-\\xff]", 1, frozenset())  # matches nothing (an empty class)
    lowered = frozenset(bytes([c + 32 if 65 <= c <= 90 else c]) for c in members)
    exact = lowered if len(lowered) <= 3 else None
    return _Node(_class(members), 1, exact, odds=min(1.0, sum(_FREQUENCY[c] for c in members)))


def _frequencies() -> list[float]:
    """A rough share of each shadow byte in the text agents and tools write (prose, code, JSON): enough to
    tell ``[_0-9]`` (rare) from ``[A-Za-z]{6}`` (most six characters of prose), which match lengths do
    not."""
    out = [0.0001] * 128
    for c in range(33, 127):
        out[c] = 0.002  # punctuation (and the placeholder)
    for c in range(ord("a"), ord("z") + 1):
        out[c] = 0.025
    for c in range(ord("A"), ord("Z") + 1):
        out[c] = 0.004
    for c in range(ord("0"), ord("9") + 1):
        out[c] = 0.004
    out[ord(" ")], out[ord("\n")], out[ord("\t")] = 0.12, 0.015, 0.002
    return out


_FREQUENCY = _frequencies()


def _members(op: Any, av: Any, flags: int) -> frozenset[int]:
    """The shadow bytes this one-character atom must accept."""
    sub = _sre_parse.SubPattern(_sre_parse.State())
    sub.state.flags = flags
    sub.append((op, _thaw(av)))
    rx = _sre_compile.compile(sub, flags)
    members = {c for c in range(128) if rx.match(chr(c))}
    for twin, letter in CASE_TWINS.items():
        if rx.match(twin):
            members.add(ord(letter))
    if _may_match_other_non_ascii(op, av):
        members.add(PLACEHOLDER)
    return frozenset(members)


def _thaw(av: Any) -> Any:
    if isinstance(av, tuple) and av and all(isinstance(x, tuple) for x in av):
        return [x for x in av]  # an IN list
    return av


def _may_match_other_non_ascii(op: Any, av: Any) -> bool:
    """Whether the atom can match a non-ASCII character other than the case twins (conservative: yes
    unless it is built only of ASCII literals and ranges)."""
    if op is _sre.LITERAL:
        return av >= 128
    if op is _sre.IN:
        for sub_op, sub_av in av:
            if sub_op is _sre.LITERAL and sub_av < 128:
                continue
            if sub_op is _sre.RANGE and sub_av[1] < 128:
                continue
            return True
        return False
    return True


def _class(members: frozenset[int]) -> str:
    if len(members) == 1:
        return _byte(next(iter(members)))
    out = []
    codes = sorted(members)
    i = 0
    while i < len(codes):
        j = i
        while j + 1 < len(codes) and codes[j + 1] == codes[j] + 1:
            j += 1
        out.append(_byte(codes[i]) if i == j else f"{_byte(codes[i])}-{_byte(codes[j])}")
        i = j + 1
    return "[" + "".join(out) + "]"


def _byte(c: int) -> str:
    ch = chr(c)
    return ch if ch.isalnum() else f"\\x{c:02x}"


def _cross(a: frozenset[bytes] | None, b: frozenset[bytes] | None) -> frozenset[bytes] | None:
    if a is None or b is None or len(a) * len(b) > MAX_EXACT:
        return None
    return frozenset(x + y for x in a for y in b)


def _concat(nodes: list[_Node]) -> _Node:
    nodes = [n for n in nodes if n.regex or n.min_len]
    if not nodes:
        return _EMPTY
    if len(nodes) == 1:
        return nodes[0]
    regex = "".join(_group(n.regex) if _is_alternation(n.regex) else n.regex for n in nodes)
    reverse = "".join(_group(n.rev) if _is_alternation(n.rev) else n.rev for n in reversed(nodes))
    min_len = sum(n.min_len for n in nodes)
    # Every part's clauses hold, and so does each run of consecutive parts with exact string sets.
    clauses: list[Clause] = []
    run: frozenset[bytes] | None = None
    for n in nodes:
        clauses.extend(n.clauses)
        joined = _cross(run, n.exact) if run is not None else None
        if joined is not None:
            run = joined
        else:
            if run is not None:
                clauses.append(run)
            run = n.exact
    if run is not None:
        clauses.append(run)
    exact: frozenset[bytes] | None = frozenset({b""})
    for n in nodes:
        exact = _cross(exact, n.exact)
        if exact is None:
            break
    odds = 1.0
    for n in nodes:
        odds *= n.odds
    return _Node(regex, min_len, exact, _best_clauses(clauses), reverse=reverse, odds=odds)


def _alternate(branches: list[_Node]) -> _Node:
    regex = "|".join(b.regex for b in branches)
    min_len = min(b.min_len for b in branches)
    exact: frozenset[bytes] | None = frozenset()
    for b in branches:
        if exact is None or b.exact is None or len(exact) + len(b.exact) > MAX_EXACT:
            exact = None
            break
        exact = exact | b.exact
    union: Clause | None = frozenset()
    for b in branches:
        own = _own_clauses(b)
        if not own:
            union = None
            break
        union = union | own[0]  # type: ignore[operator]
    clauses = (union,) if union is not None and _useful(union) else ()
    reverse = "|".join(b.rev for b in branches)
    if len(branches) > 1:
        regex, reverse = _group(regex), _group(reverse)
    return _Node(regex, min_len, exact, clauses, tuple(branches), reverse=reverse,
                 odds=min(1.0, sum(b.odds for b in branches)))


def _repeat(node: _Node, lo: int, hi: int) -> _Node:
    if not node.regex:
        return _EMPTY
    unbounded = hi is _sre.MAXREPEAT or hi > MAX_COUNT
    lo = min(lo, MAX_COUNT)
    body = node.regex if _is_atom(node.regex) else _group(node.regex)
    rbody = node.rev if _is_atom(node.rev) else _group(node.rev)
    if unbounded:
        suffix = "*" if lo == 0 else "+" if lo == 1 else f"{{{lo},}}"
    elif lo == hi == 1:
        return node
    elif lo == 0 and hi == 1:
        suffix = "?"
    else:
        suffix = f"{{{lo}}}" if lo == hi else f"{{{lo},{hi}}}"
    exact = None
    if not unbounded and hi <= 3 and node.exact is not None:  # "s?" -> {"", "s"}
        power: frozenset[bytes] | None = frozenset({b""})
        exact = frozenset({b""}) if lo == 0 else frozenset()
        for k in range(1, hi + 1):
            power = _cross(power, node.exact)
            if power is None:
                exact = None
                break
            if k >= lo:
                exact = exact | power  # type: ignore[operator]
        if exact is not None and len(exact) > MAX_EXACT:
            exact = None
    clauses = _own_clauses(node) if lo >= 1 else ()
    least = None
    if lo >= 1 and (unbounded or hi > lo):
        least = node if lo == 1 else _Node(f"{body}{{{lo}}}", lo * node.min_len, None, clauses,
                                             reverse=f"{rbody}{{{lo}}}", odds=node.odds ** lo)
    return _Node(body + suffix, lo * node.min_len, exact, clauses, least=least, reverse=rbody + suffix,
                 odds=node.odds ** lo)


def _trim(nodes: list[_Node], front: bool) -> list[_Node]:
    """The parts of a top-level branch with what can match nothing dropped at its ends and a repeat there
    at its minimum (at the start only with ``front``)."""
    nodes = [n for n in nodes if n.regex or n.min_len]
    if front:
        while nodes and nodes[0].min_len == 0:
            nodes.pop(0)
        if nodes and nodes[0].least is not None:
            nodes[0] = nodes[0].least
    while nodes and nodes[-1].min_len == 0:
        nodes.pop()
    if nodes and nodes[-1].least is not None:
        nodes[-1] = nodes[-1].least
    return nodes


def _rarer(a: _Node, b: _Node) -> _Node:
    """Of two forms of a branch, the one less likely to match at a given place (the longer when even)."""
    if b.odds < a.odds:
        return b
    return a if a.odds < b.odds else _longer(a, b)


def _longer(a: _Node, b: _Node) -> _Node:
    def rank(n: _Node) -> tuple:
        own = _own_clauses(n)
        return (n.min_len, _score(own[0]) if own else (-1, 0))
    return b if rank(b) > rank(a) else a


def _group(regex: str) -> str:
    return f"(?:{regex})"


def _is_atom(regex: str) -> bool:
    if regex.startswith("[") and regex.endswith("]") and regex.count("[") == 1:
        return True
    return len(regex) == 1 or (len(regex) == 4 and regex.startswith("\\x"))


def _is_alternation(regex: str) -> bool:
    depth = 0
    i = 0
    while i < len(regex):
        c = regex[i]
        if c == "\\":
            i += 2
            continue
        if c == "[":
            i = regex.index("]", i + 1) + 1
            continue
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif c == "|" and depth == 0:
            return True
        i += 1
    return False
