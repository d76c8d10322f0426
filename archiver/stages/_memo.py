"""A bounded memo: the most recently used results of a pure function, by key.

Reports repeat themselves: the county template every township copies, last year's paragraphs,
a block pasted twice. A stage whose result depends only on its input can look such input up
instead of computing it again, as long as what it remembers stays bounded (memory must not grow
with the inbox): ``LruMemo`` forgets the least recently used entries beyond its capacity.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Mapping
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class LruMemo(Generic[K, V]):
    """At most ``capacity`` entries; ``get`` and ``remember`` make an entry the most recent."""

    def __init__(self, capacity: int) -> None:
        if capacity < 0:
            raise ValueError(f"capacity must be at least 0, not {capacity}")
        self.capacity = capacity
        self._entries: OrderedDict[K, V] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def found(self, keys: Iterable[K]) -> dict[K, V]:
        """The entries held for ``keys``, each made the most recent."""
        hits: dict[K, V] = {}
        for key in keys:
            if key in self._entries:
                self._entries.move_to_end(key)
                hits[key] = self._entries[key]
        return hits

    def peek(self, keys: Iterable[K]) -> dict[K, V]:
        """The entries held for ``keys``, none made more recent."""
        entries = self._entries
        return {key: entries[key] for key in keys if key in entries}

    def remember(self, entries: Mapping[K, V]) -> None:
        """Hold ``entries`` (replacing older values), then forget the least recent over capacity."""
        for key, value in entries.items():
            self._entries[key] = value
            self._entries.move_to_end(key)
        while len(self._entries) > self.capacity:
            self._entries.popitem(last=False)
