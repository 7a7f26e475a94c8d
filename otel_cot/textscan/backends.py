"""The engines that reject text for many loosened patterns at once (see :mod:`.superset`).

A backend is built from the registered patterns' :class:`~.superset.Superset` forms and answers, for one
text's ASCII shadow, which patterns may match it (``scan`` then ``may_set``; ``scan_text`` does both from
the text) and, for the patterns
registered with ``positions``, where a match may start (``cursor``). Every answer is a superset: a pattern
left out of ``may_set`` cannot match; a cursor's answer for ``pos`` is at most the start of the first
real match at or after ``pos``.

- :class:`HyperscanBackend` (``hyperscan`` on PyPI, Vectorscan inside): one database for every pattern,
  one pass per text; start positions from the pattern's reversed span form run over the reversed text
  (its match ends are the starts), only for texts where that pattern may match.
- :class:`RE2Backend` (``google-re2``): an ``RE2::Set`` for the may-match answer; start positions by
  searching the pattern's span form with RE2 from ``pos`` (with word boundaries on ASCII text).
- :class:`LiteralBackend` (no dependency): each pattern's required literals (:attr:`Superset.factors`)
  looked up in the lowered shadow; no start positions.
- :class:`NoBackend` (``off``): rejects nothing, i.e. plain ``re``; the reference the others are
  compared with.
"""

from __future__ import annotations

import bisect
import hashlib
import logging
import os
import threading
from typing import Any, Callable, Container, Protocol, Sequence

from .superset import Superset, shadow as _shadow

logger = logging.getLogger("otel_cot.textscan")


class Backend(Protocol):
    name: str
    reads_text: bool  # False: scan() is not called (no shadow is made)
    min_scan: int  # shorter texts are not scanned (``re`` runs on them directly)

    count: int  # the patterns it was built over (indexes 0 .. count - 1)

    def scan(self, shadow: bytes) -> Any:
        """Per-text state for :meth:`may_set` and :meth:`cursor`."""

    def scan_text(self, text: str) -> tuple[Any, Container[int]]:
        """:meth:`scan` of the text's shadow, and its :meth:`may_set` (``(None, EVERYTHING)`` for a backend that
        does not read text): what a new text's scan asks, in one call."""

    def may_set(self, state: Any) -> Container[int]:
        """The indexes of the patterns that may match the text (``in`` is all that is asked of it)."""

    def part(self, state: Any, start: int, end: int) -> Any:
        """The state for ``text[start:end]`` from ``text``'s: its may-match answers may be the text's (a
        superset), its start positions must be its own."""

    def positional(self, index: int) -> bool:
        """Whether :meth:`cursor` can answer for this pattern."""

    def cursor(self, state: Any, index: int, pos: int, endpos: int, ascii: bool) -> Callable[[int], int | None]:
        """For one search of ``text[:endpos]`` from ``pos``: a function giving the first position at or
        after its argument where a match may start (None: no match can start there or later). ``ascii``:
        the text is ASCII (its shadow is the text)."""


class LiteralBackend:
    """Pure Python: a pattern may match when the lowered shadow holds, for one of its top-level
    alternatives, a string of every clause of that alternative (:attr:`Superset.factors`)."""

    name = "python"
    reads_text = True
    min_scan = 512  # below this the literal checks cost more than they save

    def __init__(self, supersets: Sequence[Superset], positions: Sequence[bool]) -> None:
        self.factors = [s.factors for s in supersets]
        self.count = len(supersets)

    def scan(self, shadow: bytes) -> Any:
        return shadow

    def scan_text(self, text: str) -> tuple[Any, Container[int]]:
        state = self.scan(_shadow(text))
        return state, self.may_set(state)

    def may_set(self, state: Any) -> Container[int]:
        return _LiteralAnswers(self.factors, state.lower())

    def part(self, state: Any, start: int, end: int) -> Any:
        return state[start:end]  # (its literals looked up again: cheap, and as selective as a scan of it)

    def positional(self, index: int) -> bool:
        return False

    def cursor(self, state: Any, index: int, pos: int, endpos: int,
               ascii: bool) -> Callable[[int], int | None]:  # pragma: no cover - never positional
        raise NotImplementedError


class _LiteralAnswers:
    """Which patterns may match one lowered shadow, worked out for each pattern when first asked."""

    __slots__ = ("factors", "lowered", "memo")

    def __init__(self, factors: list[Any], lowered: bytes) -> None:
        self.factors = factors
        self.lowered = lowered
        self.memo: dict[int, bool] = {}

    def __contains__(self, index: object) -> bool:
        answer = self.memo.get(index)  # type: ignore[call-overload]
        if answer is None:
            factors = self.factors[index]  # type: ignore[index]
            lowered = self.lowered
            answer = factors is None or any(all(any(f in lowered for f in clause) for clause in branch)
                                            for branch in factors)
            self.memo[index] = answer  # type: ignore[index]
        return answer


class _Everything:
    """Every pattern may match."""

    __slots__ = ()

    def __contains__(self, index: object) -> bool:
        return True


EVERYTHING = _Everything()


class HyperscanBackend:
    """Hyperscan / Vectorscan: one pass over the shadow answers every pattern. Start positions come from a
    per-pattern database of its reversed span form, built the first time it is needed and run (over the
    reversed text, or the searched slice of it) only where that pattern may match."""

    name = "hyperscan"
    reads_text = True
    min_scan = 32

    def __init__(self, supersets: Sequence[Superset], positions: Sequence[bool]) -> None:
        import hyperscan

        self._hs = hyperscan
        self._local = threading.local()
        self._lock = threading.Lock()
        self.always = {i for i, s in enumerate(supersets) if s.regex is None}
        wanted = {i: s.regex.encode("ascii") for i, s in enumerate(supersets) if s.regex is not None}
        self.db, failed = self._compile(wanted, hyperscan.HS_FLAG_SINGLEMATCH)
        self.always |= failed
        self.spans = {i: s for i, s in enumerate(supersets) if positions[i] and s.span_regex is not None}
        self.span_dbs: dict[tuple[int, bool], Any] = {}
        self._positional: dict[int, bool] = {}  # asked on nearly every search: answered once per pattern
        self.count = len(supersets)

    def _compile(self, wanted: dict[int, bytes], flags: int) -> tuple[Any, set[int]]:
        hs = self._hs
        failed: set[int] = set()
        if not wanted:
            return None, failed
        try:
            return self._database(wanted, flags), failed
        except hs.error:
            pass
        ok = {}
        for i, expr in wanted.items():  # find the patterns the engine refuses; they are never rejected
            try:
                self._database({i: expr}, flags)
                ok[i] = expr
            except hs.error as exc:
                logger.debug("textscan: hyperscan refuses pattern %d (%s)", i, exc)
                failed.add(i)
        return (self._database(ok, flags) if ok else None), failed

    def _database(self, exprs: dict[int, bytes], flags: int) -> Any:
        """Compile, or load the same database compiled by an earlier process (see :func:`cache_dir`)."""
        hs = self._hs
        folder = cache_dir()
        path = None
        if folder is not None:
            key = hashlib.sha256(repr((getattr(hs, "__version__", ""), flags, sorted(exprs.items()))).encode())
            path = os.path.join(folder, key.hexdigest()[:32] + ".hsdb")
            try:
                with open(path, "rb") as fh:
                    return hs.loadb(fh.read(), hs.HS_MODE_BLOCK)
            except Exception:  # absent, unreadable, or built by another engine version: compile
                pass
        db = hs.Database()
        db.compile(expressions=list(exprs.values()), ids=list(exprs), elements=len(exprs),
                   flags=[flags] * len(exprs))
        if path is not None:
            try:
                os.makedirs(folder, exist_ok=True)  # type: ignore[arg-type]
                tmp = f"{path}.{os.getpid()}.{threading.get_ident()}.tmp"
                with open(tmp, "wb") as fh:
                    fh.write(hs.dumpb(db))
                os.replace(tmp, path)
                _prune(folder)  # type: ignore[arg-type]
            except Exception:  # a read-only home or a full disk only costs the next start its compile
                logger.debug("textscan: cannot cache the compiled database in %s", folder, exc_info=True)
        return db

    def _span_db(self, index: int, ascii: bool) -> Any:
        """The database of the pattern's reversed span form (with word boundaries for ASCII text), or
        None when the engine refuses it (no positions then)."""
        key = (index, ascii)
        try:
            return self.span_dbs[key]
        except KeyError:
            pass
        with self._lock:
            if key not in self.span_dbs:
                loose = self.spans[index]
                regex = loose.span_ascii_reversed if ascii else loose.span_reversed
                db, failed = self._compile({index: regex.encode("ascii")}, 0)  # type: ignore[union-attr]
                self.span_dbs[key] = db
            return self.span_dbs[key]

    def _scratch(self, db: Any) -> Any:
        scratch = self._local.__dict__.get("scratch")
        if scratch is None:
            scratch = self._local.scratch = {}
        s = scratch.get(db)
        if s is None:
            s = scratch[db] = self._hs.Scratch(db)
        return s

    def scan(self, shadow: bytes) -> Any:
        found = set(self.always)
        db = self.db
        if db is not None:
            try:  # (the whole-text database's scratch: looked up on every text, so kept apart)
                scratch = self._local.main
            except AttributeError:
                scratch = self._local.main = self._scratch(db)
            # (positional: the binding parses keywords at ~0.2 µs a call, a tenth of a short text's scan)
            db.scan(shadow, _add_id, 0, found, scratch)
        return [shadow, found, None]

    def scan_text(self, text: str) -> tuple[Any, Container[int]]:
        # (``scan`` and ``may_set`` inlined, and ``shadow``'s first case: a new text's scan is on every view)
        shadow = text.encode("ascii") if text.isascii() else _shadow(text)
        found = set(self.always)
        db = self.db
        if db is not None:
            try:
                scratch = self._local.main
            except AttributeError:
                scratch = self._local.main = self._scratch(db)
            db.scan(shadow, _add_id, 0, found, scratch)
        return [shadow, found, None], found

    def may_set(self, state: Any) -> Container[int]:
        return state[1]

    def part(self, state: Any, start: int, end: int) -> Any:
        return [state[0][start:end], state[1], None]

    def positional(self, index: int) -> bool:
        answer = self._positional.get(index)
        if answer is None:
            answer = self._positional[index] = index in self.spans and \
                self._span_db(index, False) is not None and self._span_db(index, True) is not None
        return answer

    def cursor(self, state: Any, index: int, pos: int, endpos: int, ascii: bool) -> Callable[[int], int | None]:
        shadow = state[0]
        n = len(shadow)
        hi = min(endpos, n)
        lo = max(0, min(pos, hi) - 1)  # from one character before pos: a \b at pos reads it
        # Up to the end of the text, the whole text's starts serve a search from any ``pos``: ``re`` reads
        # the characters before ``pos`` (lookbehinds, \b) as they are, so a match it finds from ``pos`` is
        # a match in the whole text. Only a cut end (``endpos``) changes what can match, hence the slice.
        if hi == n:  # kept for the other searches of this text (a loop of searches from later places)
            cache = state[2]
            if cache is None:
                cache = state[2] = {}
            starts = cache.get(index)
            if starts is None:
                starts = cache[index] = self._starts(shadow, index, ascii, 0, n)
        else:
            starts = self._starts(shadow, index, ascii, lo, hi)

        def next_start(at: int) -> int | None:
            k = bisect.bisect_left(starts, at)
            return starts[k] if k < len(starts) else None

        return next_start

    def _starts(self, shadow: bytes, index: int, ascii: bool, lo: int, hi: int) -> list[int]:
        """Every position in ``shadow[lo:hi]`` where a match of the span pattern starts, sorted: the
        reversed pattern run over the reversed slice reports each such start as a match end. (The slice
        is the engine's whole text: ``re`` too sees ``hi`` as the end of the text, and a boundary at
        ``lo + 1`` reads the character at ``lo``.)"""
        db = self._span_db(index, ascii)
        ends: list[int] = []
        db.scan(shadow[lo:hi][::-1], _add_end, 0, ends, self._scratch(db))
        ends.sort(reverse=True)
        return [hi - e for e in ends]


def cache_dir() -> str | None:
    """Where compiled Hyperscan databases are kept between processes (compiling them all takes about a
    second; loading them, milliseconds): ``$OTEL_COT_TEXTSCAN_CACHE``, else ``~/.cache/otel-cot/textscan``
    (``$XDG_CACHE_HOME`` respected); ``off`` keeps none."""
    configured = os.environ.get("OTEL_COT_TEXTSCAN_CACHE")
    if configured is not None:
        return None if configured.strip().lower() in ("", "off", "0", "false", "no") else configured
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "otel-cot", "textscan")


MAX_CACHED = 256  # database files kept (each pattern set and start-position pattern has its own)


def _prune(folder: str) -> None:
    """Keep the most recently written :data:`MAX_CACHED` files."""
    names = [n for n in os.listdir(folder) if n.endswith(".hsdb")]
    if len(names) <= MAX_CACHED:
        return
    paths = sorted((os.path.join(folder, n) for n in names), key=os.path.getmtime)
    for path in paths[: len(paths) - MAX_CACHED]:
        try:
            os.remove(path)
        except OSError:
            pass


def _add_id(index: int, start: int, end: int, flags: int, found: set[int]) -> None:
    found.add(index)


def _add_end(index: int, start: int, end: int, flags: int, ends: list[int]) -> None:
    ends.append(end)


class RE2Backend:
    """RE2: a set of all loosened patterns for the may-match answer, each loosened pattern for starts."""

    name = "re2"
    reads_text = True
    min_scan = 32

    def __init__(self, supersets: Sequence[Superset], positions: Sequence[bool]) -> None:
        import re2

        options = re2.Options()
        options.encoding = re2.Options.Encoding.LATIN1
        options.max_mem = 256 << 20  # room for the set's DFA
        options.log_errors = False
        self.always = {i for i, s in enumerate(supersets) if s.regex is None}
        self.set = re2.Set.SearchSet(options)
        # When the DFA runs out of memory RE2 reports no match at all: a pattern that matches every text
        # (set index 0) tells that apart from "nothing matched".
        self.set.Add(b"(?:)")
        self.ids: list[int] = [-1]
        for i, s in enumerate(supersets):
            if s.regex is None:
                continue
            try:
                self.set.Add(s.regex.encode("ascii"))
                self.ids.append(i)
            except re2.error:
                self.always.add(i)
        self.set.Compile()
        self.count = len(supersets)
        # start positions: the span form, and for ASCII text (the shadow is the text, and RE2's \b is ASCII)
        # the one that keeps word boundaries
        self.rx: dict[int, tuple[Any, Any]] = {}
        for i, s in enumerate(supersets):
            if positions[i] and s.span_regex is not None:
                try:
                    plain = re2.compile(s.span_regex.encode("ascii"), options)
                    bounded = re2.compile(s.span_ascii_regex.encode("ascii"), options) \
                        if s.span_ascii_regex is not None else plain
                    self.rx[i] = (plain, bounded)
                except re2.error:
                    pass

    def scan(self, shadow: bytes) -> Any:
        hits = self.set.Match(shadow) or ()
        if 0 not in hits:  # the engine gave up: nothing is rejected
            return [shadow, EVERYTHING]
        ids = self.ids
        found = {ids[h] for h in hits}
        if self.always:
            found |= self.always
        return [shadow, found]

    def scan_text(self, text: str) -> tuple[Any, Container[int]]:
        state = self.scan(_shadow(text))
        return state, state[1]

    def may_set(self, state: Any) -> Container[int]:
        return state[1]

    def part(self, state: Any, start: int, end: int) -> Any:
        return [state[0][start:end], state[1]]

    def positional(self, index: int) -> bool:
        return index in self.rx

    def cursor(self, state: Any, index: int, pos: int, endpos: int, ascii: bool) -> Callable[[int], int | None]:
        shadow = state[0]
        hi = min(endpos, len(shadow))
        # (RE2 reads the text after ``hi`` for a \b there, where ``re`` sees the end of the text: the
        # boundaries are kept only for a search to the end)
        search = self.rx[index][ascii and hi == len(shadow)].search

        def next_start(at: int) -> int | None:
            m = search(shadow, at, hi)
            return None if m is None else m.start()

        return next_start


class NoBackend(LiteralBackend):
    """Every pattern may match everywhere: plain ``re``, for comparisons."""

    name = "off"
    reads_text = False
    min_scan = 1 << 62

    def __init__(self, supersets: Sequence[Superset], positions: Sequence[bool]) -> None:
        self.count = len(supersets)

    def scan(self, shadow: bytes) -> Any:  # pragma: no cover - not called (reads_text)
        return None

    def scan_text(self, text: str) -> tuple[Any, Container[int]]:
        return None, EVERYTHING

    def may_set(self, state: Any) -> Container[int]:
        return EVERYTHING


BACKENDS = {"hyperscan": HyperscanBackend, "re2": RE2Backend, "python": LiteralBackend, "off": NoBackend}


def available(name: str) -> bool:
    """Whether the backend's library can be imported."""
    module = {"hyperscan": "hyperscan", "re2": "re2", "python": None, "off": None}[name]
    if module is None:
        return True
    try:
        __import__(module)
    except Exception:
        return False
    return True
