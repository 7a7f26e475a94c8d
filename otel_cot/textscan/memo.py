"""A bounded map from texts to what was read from them."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any


class Memo:
    """What was read from texts, by text: the oldest entries dropped beyond ``entries`` entries or ``chars``
    characters of keys in all (a key longer than an eighth of that is not kept). ``get`` takes no lock."""

    __slots__ = ("entries", "chars", "longest", "map", "size", "lock")

    def __init__(self, entries: int, chars: int) -> None:
        self.entries = entries
        self.chars = chars
        self.longest = chars // 8
        # (OrderedDict: dropping a plain dict's first entry again and again leaves a run of holes that
        # every next ``iter`` walks over)
        self.map: OrderedDict[Any, tuple[Any, int]] = OrderedDict()
        self.size = 0
        self.lock = threading.Lock()

    def get(self, key: Any) -> Any:
        found = self.map.get(key)
        return None if found is None else found[0]

    def put(self, key: Any, value: Any, size: int) -> None:
        if size > self.longest:
            return
        with self.lock:
            if key in self.map:
                return
            self.map[key] = (value, size)
            self.size += size
            while len(self.map) > self.entries or self.size > self.chars:
                self.size -= self.map.popitem(last=False)[1][1]

    def clear(self) -> None:
        with self.lock:
            self.map.clear()
            self.size = 0
