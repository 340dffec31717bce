"""Bounds for the integers clients send in paths and query strings.

Every integer parameter declares a range: an unbounded one lets ``10**30`` through
validation to code that cannot hold it (SQLite's 64-bit integers raise
``OverflowError``; orjson refuses to serialise it), a 500 from ordinary bad input.
Positions and versions are 64-bit in both stores, so that is the ceiling.
"""

from __future__ import annotations

from typing import Final

#: The largest position or version either store can hold (a signed 64-bit integer).
MAX_INT64: Final = 2**63 - 1

__all__ = ["MAX_INT64"]
