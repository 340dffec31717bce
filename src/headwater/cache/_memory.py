"""L1: this process's bounded LRU of decoded values, with per-copy TTL and tag generations.

Why not ``cachetools``/``functools.lru_cache``: an L1 copy needs two clocks (the
shared logical expiry that XFetch reads, and the node-local ``l1_until`` after which
L2 is asked again) and a cheap, O(1) way to drop every entry of a tag. Tags work by
generation: invalidating a tag bumps its local counter, and an entry remembers the
generations of its tags when its computation started, so a hit compares a few
integers and invalidation never walks the cache. Dropped entries age out of the LRU.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass

from headwater.cache._entry import Entry


@dataclass(slots=True)
class L1Item:
    entry: Entry
    #: When this node stops trusting its copy (monotonic-free: same clock as expiry).
    l1_until: float
    #: When the copy may be dropped altogether: expiry plus the stale-if-error window.
    keep_until: float
    tags: tuple[str, ...]
    generations: tuple[int, ...]


class MemoryCache:
    def __init__(self, max_entries: int = 10_000) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.max_entries = max_entries
        self._items: OrderedDict[str, L1Item] = OrderedDict()
        self._generations: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._items)

    def generations(self, tags: Iterable[str]) -> tuple[int, ...]:
        gens = self._generations
        return tuple(gens.get(tag, 0) for tag in tags)

    def get(self, key: str, now: float) -> L1Item | None:
        """The copy under ``key`` unless a tag invalidated it or it is past keeping."""
        item = self._items.get(key)
        if item is None:
            return None
        if now >= item.keep_until or (
            item.tags and self.generations(item.tags) != item.generations
        ):
            del self._items[key]
            return None
        self._items.move_to_end(key)
        return item

    def set(self, key: str, item: L1Item) -> None:
        items = self._items
        items[key] = item
        items.move_to_end(key)
        if len(items) > self.max_entries:
            items.popitem(last=False)

    def delete(self, key: str) -> None:
        self._items.pop(key, None)

    def invalidate(self, tags: Iterable[str]) -> None:
        gens = self._generations
        for tag in tags:
            gens[tag] = gens.get(tag, 0) + 1

    def clear(self) -> None:
        self._items.clear()
