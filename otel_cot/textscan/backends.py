"""The engines that reject text for many loosened patterns at once (see :mod:`.superset`).

A backend is built from the registered patterns' :class:`~.superset.Superset` forms and answers, for one
text's ASCII shadow, which patterns may match it (``scan`` then ``may``) and, for the patterns registered
with ``positions``, where a match may start (``next_start``). Every answer is a superset: ``may`` False
means the real pattern cannot match; ``next_start(pos)`` is at most the start of the first real match at
or after ``pos``.

- :class:`HyperscanBackend` (``hyperscan`` on PyPI, Vectorscan inside): one database for every pattern,
  one pass per text; start positions from a second database with leftmost start-of-match reporting,
  scanned only for texts where such a pattern may match.
- :class:`RE2Backend` (``google-re2``): an ``RE2::Set`` for the may-match answer; start positions by
  searching the loosened pattern with RE2 from ``pos``.
- :class:`LiteralBackend` (no dependency): each pattern's required literals (:attr:`Superset.factors`)
  looked up in the lowered shadow; no start positions.
- :class:`NoBackend` (``off``): rejects nothing, i.e. plain ``re``; the reference the others are
  compared with.
"""

from __future__ import annotations

import bisect
import logging
import threading
from typing import Any, Container, Protocol, Sequence

from .superset import Superset

logger = logging.getLogger("otel_cot.textscan")


class Backend(Protocol):
    name: str

    count: int  # the patterns it was built over (indexes 0 .. count - 1)

    def scan(self, shadow: bytes) -> Any:
        """Per-text state for :meth:`may_set` and :meth:`next_start`."""

    def may_set(self, state: Any) -> Container[int]:
        """The indexes of the patterns that may match the text (``in`` is all that is asked of it)."""

    def next_start(self, state: Any, index: int, pos: int) -> int | None:
        """The first position >= ``pos`` where the pattern may start a match; None when none can.
        Only for patterns registered with positions and supported by the backend (see ``positional``)."""

    def positional(self, index: int) -> bool: ...


class LiteralBackend:
    """Pure Python: a pattern may match when its shadow contains one of its required literals."""

    name = "python"

    def __init__(self, supersets: Sequence[Superset], positions: Sequence[bool]) -> None:
        self.factors = [s.factors for s in supersets]
        self.count = len(supersets)

    def scan(self, shadow: bytes) -> Any:
        return shadow

    def may_set(self, state: Any) -> Container[int]:
        return _LiteralAnswers(self.factors, state.lower())

    def positional(self, index: int) -> bool:
        return False

    def next_start(self, state: Any, index: int, pos: int) -> int | None:  # pragma: no cover - unused
        return pos


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
    per-pattern database with leftmost start-of-match reporting, built the first time it is needed and
    scanned only over texts where that pattern may match."""

    name = "hyperscan"

    def __init__(self, supersets: Sequence[Superset], positions: Sequence[bool]) -> None:
        import hyperscan

        self._hs = hyperscan
        self._local = threading.local()
        self._lock = threading.Lock()
        self.always = {i for i, s in enumerate(supersets) if s.regex is None}
        wanted = {i: s.regex.encode("ascii") for i, s in enumerate(supersets) if s.regex is not None}
        self.db, failed = self._compile(wanted, hyperscan.HS_FLAG_SINGLEMATCH)
        self.always |= failed
        self.spans = {i: s.span_regex.encode("ascii") for i, s in enumerate(supersets)
                      if positions[i] and s.span_regex is not None and i not in self.always}
        self.span_dbs: dict[int, Any] = {}
        self.min_len = {i: s.span_min_len for i, s in enumerate(supersets)}
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
        db = self._hs.Database()
        db.compile(expressions=list(exprs.values()), ids=list(exprs), elements=len(exprs),
                   flags=[flags] * len(exprs))
        return db

    def _span_db(self, index: int) -> Any:
        """The pattern's start-reporting database (None: the engine refuses it; no positions then)."""
        try:
            return self.span_dbs[index]
        except KeyError:
            pass
        with self._lock:
            if index not in self.span_dbs:
                db, failed = self._compile({index: self.spans[index]}, self._hs.HS_FLAG_SOM_LEFTMOST)
                self.span_dbs[index] = db
            return self.span_dbs[index]

    def _scratch(self, db: Any) -> Any:
        scratch = self._local.__dict__.get("scratch")
        if scratch is None:
            scratch = self._local.scratch = {}
        s = scratch.get(db)
        if s is None:
            s = scratch[db] = self._hs.Scratch(db)
        return s

    def scan(self, shadow: bytes) -> Any:
        found: set[int] = set()
        db = self.db
        if db is not None:
            db.scan(shadow, match_event_handler=_add_id, context=found, scratch=self._scratch(db))
        if self.always:
            found |= self.always
        return [shadow, found, None]

    def may_set(self, state: Any) -> Container[int]:
        return state[1]

    def positional(self, index: int) -> bool:
        return index in self.spans and self._span_db(index) is not None

    def next_start(self, state: Any, index: int, pos: int) -> int | None:
        windows = state[2]
        if windows is None:
            windows = state[2] = {}
        mine = windows.get(index)
        if mine is None:
            mine = windows[index] = self._windows(state[0], index)
        starts, ends = mine
        k = bisect.bisect_left(ends, pos)
        if k >= len(ends):
            return None
        return max(starts[k], pos)

    def _windows(self, shadow: bytes, index: int) -> tuple[list[int], list[int]]:
        """Merged windows of the positions where a match may start, as sorted start and end lists: a
        loosened match ``[s, e)`` allows real starts from ``s`` to ``e`` minus the shortest match."""
        db = self._span_db(index)
        spans: list[tuple[int, int]] = []
        db.scan(shadow, match_event_handler=_add_span, context=spans, scratch=self._scratch(db))
        shortest = self.min_len[index]
        starts: list[int] = []
        ends: list[int] = []
        for start, end in sorted(spans):
            last = max(start, end - shortest)
            if starts and start <= ends[-1] + 1:
                if last > ends[-1]:
                    ends[-1] = last
            else:
                starts.append(start)
                ends.append(last)
        return starts, ends


def _add_id(index: int, start: int, end: int, flags: int, found: set[int]) -> None:
    found.add(index)


def _add_span(index: int, start: int, end: int, flags: int, spans: list[tuple[int, int]]) -> None:
    spans.append((start, end))


class RE2Backend:
    """RE2: a set of all loosened patterns for the may-match answer, each loosened pattern for starts."""

    name = "re2"

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
        self.rx: dict[int, Any] = {}
        for i, s in enumerate(supersets):
            if positions[i] and s.span_regex is not None and i not in self.always:
                try:
                    self.rx[i] = re2.compile(s.span_regex.encode("ascii"), options)
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

    def may_set(self, state: Any) -> Container[int]:
        return state[1]

    def positional(self, index: int) -> bool:
        return index in self.rx

    def next_start(self, state: Any, index: int, pos: int) -> int | None:
        m = self.rx[index].search(state[0], pos)
        return None if m is None else m.start()


class NoBackend(LiteralBackend):
    """Every pattern may match everywhere: plain ``re``, for comparisons."""

    name = "off"

    def __init__(self, supersets: Sequence[Superset], positions: Sequence[bool]) -> None:
        self.count = len(supersets)

    def scan(self, shadow: bytes) -> Any:
        return None

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
