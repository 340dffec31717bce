"""The per-node aggregate cache: a command starts from the state its node last saved.

::

    cache = AggregateCache(max_size=4096)
    counter = cache.take(Counter, stream_id, tenant_id)   # None: load it from the store
    ...                                                   # decide, save
    cache.put(counter, tenant_id)                         # only once the save committed

Only the command bus uses it. An entry is *taken out* for one command and put back
only after that command's save committed, so two commands never share an aggregate
object and a command that fails, conflicts or escalates leaves nothing behind: the
half-decided aggregate it held is simply dropped. The cache never proves an entry
current; the append's expected version does (another node, or any writer that went
round this cache, makes the append conflict, and the bus retries on the stored
state). Entries are scoped by tenant: a tenant only ever gets back what a command in
that same tenant saved.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, TypeAlias, TypeVar

from headwater.domain._aggregate import Aggregate

A = TypeVar("A", bound=Aggregate[Any])

#: (aggregate class, tenant, stream): one stream read as two classes is two entries.
_Key: TypeAlias = tuple[type[Aggregate[Any]], str | None, str]

#: Default bound on entries; each holds one aggregate's state, typically a few kB.
DEFAULT_MAX_SIZE = 4096


class AggregateCache:
    """A bounded LRU map from (class, tenant, stream id) to a saved aggregate."""

    def __init__(self, max_size: int = DEFAULT_MAX_SIZE) -> None:
        if isinstance(max_size, bool) or not isinstance(max_size, int) or max_size < 1:
            raise ValueError("max_size must be a positive integer")
        self.max_size = max_size
        self._entries: OrderedDict[_Key, Aggregate[Any]] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def take(self, cls: type[A], stream_id: str, tenant_id: str | None) -> A | None:
        """The aggregate as last saved through this cache, removed from it (or None)."""
        aggregate = self._entries.pop((cls, tenant_id, stream_id), None)
        if aggregate is None:
            self.misses += 1
            return None
        self.hits += 1
        assert type(aggregate) is cls
        return aggregate

    def put(self, aggregate: Aggregate[Any], tenant_id: str | None) -> None:
        """Keep a just-saved aggregate; the caller must not touch it afterwards."""
        if aggregate.has_pending_events or aggregate.version != aggregate.stored_version:
            raise ValueError("only a saved aggregate, with nothing pending, may be cached")
        key = (type(aggregate), tenant_id, aggregate.stream_id)
        known = self._entries.get(key)
        # Two commands of this node on one stream may finish out of order; the higher
        # version is the newer truth (both were committed).
        if known is not None and known.version > aggregate.version:
            self._entries.move_to_end(key)
            return
        self._entries[key] = aggregate
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_size:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self._entries.clear()
