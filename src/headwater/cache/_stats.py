"""Cache counters, plain integers read by the metrics exporter."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(slots=True)
class CacheStats:
    #: Served from this node's memory.
    l1_hits: int = 0
    #: Served from Redis (and copied into L1).
    l2_hits: int = 0
    #: Neither level had a fresh entry: the value was computed.
    misses: int = 0
    #: Callers that waited for another caller's computation instead of computing.
    coalesced: int = 0
    #: XFetch early refreshes started (one at a time per key).
    refreshes: int = 0
    #: Expired values served because recomputing failed (stale-if-error).
    stale: int = 0
    #: Entries found in L2 but older than one of their tags (invalidated).
    tag_rejections: int = 0
    #: Redis calls that failed or were refused by the open breaker.
    l2_errors: int = 0
    #: Tags invalidated by this node.
    invalidations: int = 0

    @property
    def hits(self) -> int:
        return self.l1_hits + self.l2_hits

    def snapshot(self) -> dict[str, int]:
        return {**asdict(self), "hits": self.hits}
