"""``Literals``: which of a fixed set of strings a text contains, in one pass.

A check that asks ``needle in text`` for a few dozen needles reads the text once per needle that is
absent; with Hyperscan, one scan of the text's UTF-8 bytes answers them all (each needle is ASCII, and an
ASCII byte never occurs inside the encoding of another character, so the bytes hold the needle exactly
when the text does). Without Hyperscan, or when another text-scan backend is chosen, ``in`` answers.
"""

from __future__ import annotations

import threading
from typing import Any

from .prefilter import backend_name


class Literals:
    """``found(text)``: the set of ``needles`` that occur in ``text`` (``{n for n in needles if n in text}``)."""

    def __init__(self, needles: tuple[str, ...]) -> None:
        if not all(n and n.isascii() for n in needles):
            raise ValueError("literals must be non-empty ASCII strings")
        self.needles = tuple(dict.fromkeys(needles))
        self._db: Any = None
        self._lock = threading.Lock()
        self._local = threading.local()
        _MADE.append(self)

    def found(self, text: str) -> set[str]:
        db = self._database()
        if db is None:
            return {n for n in self.needles if n in text}
        scratch = self._local.__dict__.get("scratch")
        if scratch is None:
            scratch = self._local.scratch = self._hs.Scratch(db)
        hits: set[int] = set()
        # (positional: the binding parses keywords at ~0.25 µs a call)
        db.scan(text.encode("utf-8", "surrogatepass"), _add_id, 0, hits, scratch)
        needles = self.needles
        return {needles[i] for i in hits}

    def _database(self) -> Any:
        if self._db is None:
            with self._lock:
                if self._db is None:
                    self._db = self._build()
        return self._db or None

    def _build(self) -> Any:
        """The Hyperscan database, or False (use ``in``): the backend in use is another, or it fails."""
        if backend_name() != "hyperscan":
            return False
        try:
            import hyperscan

            db = hyperscan.Database()
            expressions = ["".join(f"\\x{b:02x}" for b in n.encode("ascii")).encode("ascii") for n in self.needles]
            db.compile(expressions=expressions, ids=list(range(len(expressions))), elements=len(expressions),
                       flags=[hyperscan.HS_FLAG_SINGLEMATCH] * len(expressions))
            self._hs = hyperscan
            return db
        except Exception:  # the answers are the same without it
            return False


_MADE: list[Literals] = []


def warm() -> None:
    """Build every literal set's database now (``textscan.warm``), not inside the first check."""
    for literals in list(_MADE):
        literals._database()


def _add_id(index: int, start: int, end: int, flags: int, hits: set[int]) -> None:
    hits.add(index)
