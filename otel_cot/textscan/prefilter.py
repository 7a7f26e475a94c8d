"""``compile()``: a regex with ``re``'s API and ``re``'s matches that skips text it cannot match.

Every pattern compiled here is registered in one set. The first time a text is asked about, the whole set
is scanned over it once by a compiled multi-pattern engine (:mod:`.backends`), and the answer is kept
for the last few texts: the detectors that read the same view ask about the same string object, so the
view's text is scanned once, however many patterns look at it. A pattern that cannot match the text then
costs a set lookup instead of a regex pass. When it may match, ``re`` runs as before, so every match is
``re``'s own; with ``positions=True`` it runs only where the engine says a match may start (the
``finditer`` of a marker pattern over a long tool result tries a handful of places, not every one).

Texts shorter than the backend's ``min_scan`` characters (:data:`MIN_SCAN` for the compiled ones) go
straight to ``re``.
"""

from __future__ import annotations

import os
import re
import sys
import threading
from dataclasses import replace
from typing import Any, Iterator

from .backends import BACKENDS, Backend, available, logger
from .loosened import LoosenedCache
from .superset import Superset

MIN_SCAN = 32
_MIN_SCAN = MIN_SCAN  # the backend in use's
MIN_POSITIONAL_LEN = 4
_END = sys.maxsize  # re's own default for endpos
_CACHED_TEXTS = 4
_ENV = "OTEL_COT_TEXTSCAN"  # hyperscan | re2 | python | off: force a backend (default: the first available)
ORDER = ("hyperscan", "re2", "python")


class _Registry:
    """The registered patterns and the backend built over them (rebuilt after new registrations)."""

    def __init__(self) -> None:
        self.patterns: list[Prefiltered] = []
        self.supersets: list[Superset] = []
        self.positions: list[bool] = []
        self.lock = threading.Lock()
        self.backend: Backend | None = None
        self.built = -1
        self.choice: str | None = None
        self.local = threading.local()
        self.loosened = LoosenedCache()

    def add(self, prefiltered: Prefiltered, positions: bool | None, rejects: bool) -> int:
        loose = self.loosened.loosen(prefiltered.regex)
        if positions is None:  # worth it when the loosened pattern is specific enough to match rarely
            positions = loose.span_min_len >= MIN_POSITIONAL_LEN
        if not rejects:  # kept out of the whole-text scan: every text may match
            loose = replace(loose, regex=None, factors=None, parts=())
        with self.lock:
            self.patterns.append(prefiltered)
            self.supersets.append(loose)
            self.positions.append(positions)
            return len(self.supersets) - 1

    def current(self) -> Backend:
        backend = self.backend
        if backend is not None and self.built == len(self.supersets):
            return backend
        global _MIN_SCAN
        with self.lock:
            if self.backend is None or self.built != len(self.supersets):
                self.backend = _build(self.choice, self.supersets, self.positions)
                self.built = len(self.supersets)
                self.loosened.save()
                _MIN_SCAN = self.backend.min_scan
            return self.backend

    def use(self, name: str | None) -> None:
        global _LAST, _MIN_SCAN
        with self.lock:
            self.choice = name
            self.backend = None
            # (the old backend's floor would send the new one's shorter texts to ``re`` until a longer text
            # rebuilt it; the lowest floor asks the first text of any backend's length, which builds it)
            _MIN_SCAN = MIN_SCAN
        self.local = threading.local()
        _LAST = _Scan()  # (a text scanned before is scanned again, by the new backend)


def _build(choice: str | None, supersets: list[Superset], positions: list[bool]) -> Backend:
    names = [choice] if choice else list(ORDER)
    configured = os.environ.get(_ENV, "").strip().lower()
    if not choice and configured:
        if configured in BACKENDS:
            names = [configured]
        else:  # a typo must not cost the detectors: say so, and use the default
            logger.warning("%s=%r is not a text-scan backend (one of %s); using the default", _ENV, configured,
                           ", ".join(BACKENDS))
    for name in names:
        if not available(name):
            continue
        try:
            return BACKENDS[name](list(supersets), list(positions))
        except Exception:  # an engine that fails to build must not cost the detectors
            logger.warning("textscan: the %s backend failed to build; trying the next", name, exc_info=True)
    return BACKENDS["python"](list(supersets), list(positions))


REGISTRY = _Registry()


def backend_name() -> str:
    """The backend in use (``hyperscan``, ``re2``, ``python`` or ``off``)."""
    return REGISTRY.current().name


def use_backend(name: str | None) -> None:
    """Switch backend (None: the default choice; ``off``: plain ``re`` everywhere). For tests and
    benchmarks: the matches are the same whichever is used. A backend whose library is missing falls back
    to the pure-Python one."""
    if name is not None and name not in BACKENDS:
        raise ValueError(f"unknown text-scan backend {name!r} (one of {', '.join(BACKENDS)})")
    REGISTRY.use(name)


def registered() -> list[Prefiltered]:
    """The patterns compiled so far, in registration order."""
    with REGISTRY.lock:
        return list(REGISTRY.patterns)


def warm() -> str:
    """Build the backend and every pattern's start-position data now rather than on first use (a guard check
    must not pay for it); returns the backend's name. Never raises: a backend that fails to build is replaced
    by the pure-Python one. (``textscan.warm`` also builds the :class:`~.literals.Literals` sets.)"""
    try:
        backend = REGISTRY.current()
        for index in range(len(REGISTRY.supersets)):
            backend.positional(index)
        return backend.name
    except Exception:  # pragma: no cover - _build already falls back; positional() data stays lazy
        logger.warning("textscan: warming the backend failed", exc_info=True)
        return "unknown"


class _Scan:
    """One text's answers: ``may`` holds the indexes of the patterns that may match it, out of the first
    ``covered`` (patterns registered after the backend was built are never rejected). ``_Scan()`` is the
    answer for no text; :func:`_scan_of` fills a new one for a scanned text."""

    __slots__ = ("text", "backend", "state", "may", "covered")

    def __init__(self) -> None:
        self.text: str | None = None
        self.backend: Backend | None = None
        self.state: Any = None
        self.may: frozenset[int] = frozenset()
        self.covered = 0


_LAST = _Scan()  # the last text scanned, by any thread (checked by identity before the cache)
_new = object.__new__


def _scan_of(text: str) -> _Scan:
    global _LAST
    registry = REGISTRY
    try:
        cache: list[_Scan] = registry.local.cache
    except AttributeError:
        cache = registry.local.cache = []
    for entry in cache:
        if entry.text is text:
            _LAST = entry
            return entry
    backend = registry.backend  # (``registry.current()``'s lock-free check, inlined)
    if backend is None or registry.built != len(registry.supersets):
        backend = registry.current()
    entry = _new(_Scan)  # (filled here, without an ``__init__`` frame: once per new text)
    entry.text = text
    entry.backend = backend
    entry.state, entry.may = backend.scan_text(text)
    entry.covered = backend.count
    cache.insert(0, entry)  # (``_remember_scan``, inlined)
    del cache[_CACHED_TEXTS:]
    _LAST = entry
    return entry


def _remember_scan(entry: _Scan, cache: list[_Scan] | None = None) -> None:
    global _LAST
    if cache is None:
        local = REGISTRY.local
        cache = local.__dict__.get("cache")
        if cache is None:
            cache = local.cache = []
    cache.insert(0, entry)
    del cache[_CACHED_TEXTS:]
    _LAST = entry


def part(text: str, start: int, end: int) -> str:
    """``text[start:end]``, whose answers come from ``text``'s scan when that is among the last few kept (no
    scan of its own): a piece cut out of a view's text, e.g. a code block of an answer, read by patterns right away.

    Exact: every registered pattern's whole-text loosened form keeps no assertion (anchors, ``\\b`` and
    lookarounds are dropped, or kept as text that the match consumes), so a match of it in the piece's
    shadow, which is the text's shadow cut at the same places, is a match in the text's: a pattern ``text``
    cannot match, its piece cannot match either. (Start positions are still the piece's own.)"""
    piece = text[start:end]
    whole = _LAST
    if whole.text is not text:
        cache: list[_Scan] = REGISTRY.local.__dict__.get("cache") or []
        whole = next((entry for entry in cache if entry.text is text), whole)
    if whole.text is not text or whole.backend is None or piece is text:
        return piece
    backend = whole.backend
    entry = _Scan.__new__(_Scan)
    entry.text = piece
    entry.backend = backend
    entry.state = backend.part(whole.state, start, end) if backend.reads_text else None
    entry.may = backend.may_set(entry.state)
    entry.covered = whole.covered
    _remember_scan(entry)
    cache = REGISTRY.local.cache
    if len(cache) < 2 or cache[1] is not whole:  # kept next to its piece: the next piece is cut from it too
        if whole in cache:
            cache.remove(whole)
        cache.insert(1, whole)
        del cache[_CACHED_TEXTS:]
    return piece


class Prefiltered:
    """A compiled pattern: ``re.Pattern``'s matching methods and attributes, the same results."""

    __slots__ = ("regex", "index", "pattern", "flags", "groups", "groupindex")

    def __init__(self, regex: re.Pattern[str], positions: bool | None = None, rejects: bool = True) -> None:
        self.regex = regex
        self.pattern = regex.pattern
        self.flags = regex.flags
        self.groups = regex.groups
        self.groupindex = regex.groupindex
        self.index = REGISTRY.add(self, positions, rejects)

    def __repr__(self) -> str:
        return f"textscan.compile({self.pattern!r}, {self.flags!r})"

    def _scan(self, string: str) -> _Scan | None:
        """The text's scan when it is worth asking (else None: use ``re`` directly)."""
        scan = _LAST
        if scan.text is string:
            return scan
        if len(string) < _MIN_SCAN:
            return None
        return _scan_of(string)

    def positional(self) -> bool:
        """Whether the backend in use answers where this pattern's matches may start (``finditer`` on a
        text it may match then runs ``re`` only there)."""
        return REGISTRY.current().positional(self.index)

    def may_match(self, string: str) -> bool:
        """False only when the pattern cannot match anywhere in ``string``."""
        scan = _LAST  # (``_scan`` inlined, as in ``search``)
        if scan.text is not string:
            if len(string) < _MIN_SCAN:
                return True
            scan = _scan_of(string)
        index = self.index
        return index in scan.may or index >= scan.covered

    def search(self, string: str, pos: int = 0, endpos: int = _END) -> re.Match[str] | None:
        scan = _LAST  # (``_scan`` inlined: this runs for every pattern on every view)
        if scan.text is not string:
            scan = self._scan(string)
        if scan is None:
            return self.regex.search(string, pos, endpos)
        index = self.index
        if index not in scan.may and index < scan.covered:
            return None
        if not scan.backend.positional(index):  # type: ignore[union-attr]
            return self.regex.search(string, pos, endpos)
        for m in self._starts(string, scan, pos, endpos):
            return m
        return None

    def finditer(self, string: str, pos: int = 0, endpos: int = _END) -> Iterator[re.Match[str]]:
        scan = _LAST
        if scan.text is not string:
            scan = self._scan(string)
        if scan is None:
            return self.regex.finditer(string, pos, endpos)
        index = self.index
        if index not in scan.may and index < scan.covered:
            return iter(())
        if not scan.backend.positional(index):  # type: ignore[union-attr]
            return self.regex.finditer(string, pos, endpos)
        return self._starts(string, scan, pos, endpos)

    def _starts(self, string: str, scan: _Scan, pos: int, endpos: int) -> Iterator[re.Match[str]]:
        """``finditer`` by trying ``re`` only where the backend says a match may start. ``search`` tries
        every position from ``pos`` in order and the others cannot match, so the first success at or
        after ``pos`` is ``search``'s answer (patterns here never match the empty string). With
        ``endpos``, ``re`` sees the text cut there; a match of the cut text is a match of the loosened
        pattern in the whole text, so the whole text's start positions still cover it."""
        match = self.regex.match
        stop = min(endpos, len(string))
        pos = max(pos, 0)
        next_start = scan.backend.cursor(scan.state, self.index, pos, stop, string.isascii())  # type: ignore[union-attr]
        while pos < stop:
            start = next_start(pos)
            if start is None or start >= stop:
                return
            m = match(string, start, endpos)
            if m is None:
                pos = start + 1
                continue
            yield m
            pos = m.end()

    def findall(self, string: str, pos: int = 0, *endpos: int) -> list[Any]:
        if not endpos and not self.may_match(string):
            return []
        return self.regex.findall(string, pos, *endpos)

    def match(self, string: str, pos: int = 0, *endpos: int) -> re.Match[str] | None:
        return self.regex.match(string, pos, *endpos)

    def fullmatch(self, string: str, pos: int = 0, *endpos: int) -> re.Match[str] | None:
        return self.regex.fullmatch(string, pos, *endpos)

    def sub(self, repl: Any, string: str, count: int = 0) -> str:
        if not self.may_match(string):
            return string
        return self.regex.sub(repl, string, count)

    def subn(self, repl: Any, string: str, count: int = 0) -> tuple[str, int]:
        if not self.may_match(string):
            return string, 0
        return self.regex.subn(repl, string, count)

    def split(self, string: str, maxsplit: int = 0) -> list[str | Any]:
        if not self.may_match(string):
            return [string]
        return self.regex.split(string, maxsplit)


def compile(pattern: str | re.Pattern[str], flags: int = 0, *, positions: bool | None = None,
            rejects: bool = True) -> Prefiltered:
    """``re.compile`` whose matching methods skip text the pattern cannot match (same results).

    ``positions``: also ask the backend where matches may start, so that on a text where the pattern may
    match ``re`` is tried only there (default: when every loosened match is at least
    :data:`MIN_POSITIONAL_LEN` characters long, i.e. specific enough to be rare). ``rejects=False``: keep
    the pattern out of the whole-text scan (it would match nearly every text, e.g. "a number or a
    capitalised word", and only cost the scan); with ``positions`` it is still tried only where it starts."""
    regex = pattern if isinstance(pattern, re.Pattern) else re.compile(pattern, flags)
    key = (regex.pattern, regex.flags, positions, rejects)
    with _INTERN_LOCK:  # the same pattern (a rule pack loaded by every new engine) is registered once
        found = _INTERNED.get(key)
        if found is None:
            found = _INTERNED[key] = Prefiltered(regex, positions, rejects)
        return found


_INTERNED: dict[tuple[str, int, bool | None, bool], Prefiltered] = {}
_INTERN_LOCK = threading.Lock()
