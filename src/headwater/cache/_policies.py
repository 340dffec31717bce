"""Named cache policies: how long an entry lives, and on which levels (seed 002).

=========  =====  ==========================================================
STATIC     3600s  settings, game configs: L1 and L2
FREQUENT    300s  user profiles, events: L1 and L2
REALTIME     30s  leaderboards, live games: L1 only (each node keeps its own;
                  a Redis round trip would cost more than the entry saves)
COMPUTED    600s  dashboard stats, reports: L2 first, shared by every node,
                  with a short L1 copy
=========  =====  ==========================================================

``l1_ttl`` bounds how long a node trusts its own copy without asking L2: tag
invalidations reach other nodes by pub/sub, and this bound is what limits the damage
of a missed message. ``stale_if_error`` keeps an expired value that long, to be
served (and counted as stale) when recomputing it fails.
"""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True, slots=True)
class CachePolicy:
    name: str
    #: Seconds an entry is fresh.
    ttl: float
    #: Seconds a node's L1 copy is used before L2 is asked again (capped by ttl).
    l1_ttl: float = 60.0
    use_l1: bool = True
    use_l2: bool = True
    #: XFetch's beta: > 1 refreshes earlier, < 1 later; 0 turns early refresh off.
    beta: float = 1.0
    #: Seconds past expiry a value may still be served if recomputing it fails.
    stale_if_error: float = 0.0

    def with_(self, **changes: object) -> CachePolicy:
        return replace(self, **changes)  # type: ignore[arg-type]


STATIC = CachePolicy("static", ttl=3600.0, l1_ttl=300.0, stale_if_error=3600.0)
FREQUENT = CachePolicy("frequent", ttl=300.0, l1_ttl=30.0, stale_if_error=300.0)
REALTIME = CachePolicy("realtime", ttl=30.0, l1_ttl=30.0, use_l2=False, stale_if_error=30.0)
COMPUTED = CachePolicy("computed", ttl=600.0, l1_ttl=10.0, stale_if_error=600.0)

POLICIES: dict[str, CachePolicy] = {p.name: p for p in (STATIC, FREQUENT, REALTIME, COMPUTED)}
