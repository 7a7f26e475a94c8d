"""Regex scanning that rejects text before ``re`` runs, with ``re``'s exact matches.

``textscan.compile(pattern, flags)`` returns a drop-in for ``re.compile``: the detectors' patterns are
scanned together over each text once by a compiled multi-pattern engine (Hyperscan, RE2, or a literal
prefilter in pure Python), and ``re`` runs only on the texts, or at the places, where a match is possible.
See :mod:`.superset` for why the answers are exact, :mod:`.backends` for the engines.
"""

from . import literals, prefilter
from .literals import Literals
from .memo import Memo
from .prefilter import MIN_SCAN, Prefiltered, backend_name, compile, part, registered, use_backend
from .superset import loosen, shadow

__all__ = ["Literals", "MIN_SCAN", "Memo", "Prefiltered", "backend_name", "compile", "loosen", "part", "registered",
           "shadow", "use_backend", "warm"]


def warm() -> str:
    """Build the compiled matcher, every pattern's start-position data and every :class:`Literals` set now,
    not inside the first detector call or guard check; returns the backend's name. Never raises."""
    name = prefilter.warm()
    literals.warm()
    return name
