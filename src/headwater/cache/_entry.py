"""One cached value and what XFetch and tag checks need to know about it."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any

#: Tag name -> the tag's version when the value's computation started.
TagVersions = dict[str, int]


@dataclass(slots=True)
class Entry:
    value: Any
    #: Wall-clock second (``time.time()``) the value stops being fresh; shared by
    #: every node through L2, so all of them agree when it expires.
    expires_at: float
    #: Seconds the last computation took: XFetch's delta.
    delta: float
    #: Versions of the entry's tags in L2 (empty when there is no L2).
    versions: TagVersions


def xfetch_due(entry: Entry, now: float, beta: float, rand: float | None = None) -> bool:
    """XFetch (Vattani, Chierichetti, Lowenstein, VLDB 2015): refresh early, at random.

    True when ``now - delta * beta * ln(rand) >= expiry``. ``-ln(rand)`` is
    exponentially distributed, so the chance of an early refresh grows as expiry
    nears and for values that are slow to compute (large delta), and among many
    concurrent readers of a hot key one draws it well before expiry. The original
    recomputes in the caller; ``Cache`` instead refreshes in the background (one at
    a time per key) and serves the current value meanwhile, so nobody waits.
    """
    if beta <= 0 or entry.delta <= 0:
        return now >= entry.expires_at
    r = random.random() if rand is None else rand
    return now - entry.delta * beta * math.log(r or 1e-300) >= entry.expires_at
