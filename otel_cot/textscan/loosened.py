""":func:`~.superset.loosen`'s results kept between processes.

Loosening the built-in detectors' patterns costs about 0.2 s of CPU at every start of a process that loads
them (the CLI, the hook checker, whose first answer waits for it, the collector); reading them back costs
under 2 ms (the built-in set: ~40 patterns, ~240 KB of JSON). They are kept beside the compiled databases
(:func:`.backends.cache_dir`), in one JSON file per version of the loosening code and of Python, so a
result is only ever reused by the code that would compute it again. A file that cannot be read or written
costs only the computation.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import threading
from typing import Any

from . import superset
from .backends import cache_dir, logger
from .superset import Superset, loosen

PREFIX = "loosened-"
KEEP = 8  # files of other versions kept (two installs sharing one home each keep theirs)
MAX_ENTRIES = 4096  # a process compiling patterns without end does not grow the file without end


def _version() -> str:
    with open(superset.__file__, "rb") as fh:
        source = fh.read()
    return hashlib.sha256(source + sys.version.encode()).hexdigest()[:24]


def _encode(s: Superset) -> list[Any]:
    factors = None if s.factors is None else \
        [[[b.decode("latin-1") for b in clause] for clause in branch] for branch in s.factors]
    return [s.regex, factors, s.span_regex, s.span_min_len, s.span_ascii_regex, s.span_reversed,
            s.span_ascii_reversed, list(s.parts)]


def _decode(v: list[Any]) -> Superset:
    regex, factors, span, min_len, span_ascii, rev, ascii_rev, parts = v
    if factors is not None:
        factors = tuple(tuple(tuple(b.encode("latin-1") for b in clause) for clause in branch) for branch in factors)
    return Superset(regex, factors, span, min_len, span_ascii, rev, ascii_rev, tuple(parts))


class LoosenedCache:
    """``loosen(pattern)``, answered from the file when it holds the pattern; :meth:`save` adds the new ones."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._known: dict[str, Superset] | None = None
        self._new = 0
        self._path: str | None = None

    def loosen(self, pattern: re.Pattern[str]) -> Superset:
        if not isinstance(pattern.pattern, str):
            return loosen(pattern)
        key = f"{pattern.flags}:{pattern.pattern}"
        known = self._load()
        found = known.get(key)
        if found is None:
            found = loosen(pattern)
            with self._lock:
                known[key] = found
                self._new += 1
        return found

    def _load(self) -> dict[str, Superset]:
        if self._known is not None:
            return self._known
        with self._lock:
            if self._known is None:
                known: dict[str, Superset] = {}
                folder = cache_dir()
                if folder is not None:
                    try:
                        self._path = os.path.join(folder, f"{PREFIX}{_version()}.json")
                        with open(self._path, encoding="utf-8") as fh:
                            known = {k: _decode(v) for k, v in json.load(fh).items()}
                    except FileNotFoundError:
                        pass
                    except Exception:  # unreadable or damaged: computed again, and rewritten by save()
                        logger.debug("textscan: cannot read %s", self._path, exc_info=True)
                        known = {}
                self._known = known
            return self._known

    def save(self) -> None:
        """Write the file if this process loosened patterns it did not hold. Never raises."""
        with self._lock:
            if not self._new or self._path is None or self._known is None or len(self._known) > MAX_ENTRIES:
                return
            entries = {k: _encode(v) for k, v in self._known.items()}
            self._new = 0
        path = self._path
        try:
            folder = os.path.dirname(path)
            os.makedirs(folder, exist_ok=True)
            tmp = f"{path}.{os.getpid()}.{threading.get_ident()}.tmp"
            with open(tmp, "w", encoding="utf-8") as fh:
                json.dump(entries, fh)
            os.replace(tmp, path)
            _prune(folder, keep=path)
        except Exception:  # a read-only home or a full disk only costs the next start the computation
            logger.debug("textscan: cannot keep the loosened patterns in %s", path, exc_info=True)


def _prune(folder: str, keep: str) -> None:
    paths = [os.path.join(folder, n) for n in os.listdir(folder) if n.startswith(PREFIX) and n.endswith(".json")]
    paths = sorted((p for p in paths if p != keep), key=os.path.getmtime)
    for path in paths[: max(0, len(paths) - KEEP)]:
        try:
            os.remove(path)
        except OSError:
            pass
