"""The database's figures: its connection pool and how fast it answers.

- pool: on PostgreSQL, psycopg_pool's ``get_stats()`` through the store's
  ``link_stats()``: connections in use and idle, the pool's maximum, callers waiting
  for a connection, and the mean time a caller waited to get one over the interval
  since the previous read (``requests_wait_ms`` over ``requests_num``, both counters).
  SQLite has one writer thread and a reader per concurrent read, no pool to exhaust:
  no pool figures.
- latency: a timed ``SELECT 1`` through the store, the pool wait included, which is
  what a request pays. Bounded by ``PROBE_TIMEOUT``: a probe that has not answered by
  then reports the bound itself, so an exhausted pool reads as slow, not as missing.
"""

from __future__ import annotations

import asyncio
import time

from headwater.eventstore import EventStore

PROBE_TIMEOUT = 2.0


class DatabaseFigures:
    def __init__(self, probe_timeout: float = PROBE_TIMEOUT) -> None:
        self.probe_timeout = probe_timeout
        self._requests: tuple[float, float] | None = None

    def pool(self, store: EventStore) -> dict[str, float]:
        link_stats = getattr(store, "link_stats", None)
        if not callable(link_stats):
            return {}
        stats = link_stats()
        size, idle = float(stats.get("pool_size", 0)), float(stats.get("pool_available", 0))
        out = {
            "db_pool_in_use": max(size - idle, 0.0),
            "db_pool_idle": idle,
            "db_pool_waiting": float(stats.get("requests_waiting", 0)),
        }
        if "pool_max" in stats:
            out["db_pool_max"] = float(stats["pool_max"])
        if "requests_num" in stats:
            now = (float(stats["requests_num"]), float(stats.get("requests_wait_ms", 0)))
            last, self._requests = self._requests, now
            if last is not None and now[0] > last[0]:
                out["db_pool_acquire_seconds"] = (now[1] - last[1]) / (now[0] - last[0]) / 1000
            elif last is not None:
                out["db_pool_acquire_seconds"] = 0.0
        return out

    async def latency(self, store: EventStore) -> float:
        started = time.perf_counter()
        try:
            await asyncio.wait_for(store.fetchall("SELECT 1"), self.probe_timeout)
        except TimeoutError:
            return self.probe_timeout
        return time.perf_counter() - started
