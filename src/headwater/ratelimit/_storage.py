"""Where counters live: this process (embedded default) or Redis (shared by N nodes).

Request-rate windows are moving windows (``limits``' strategy and rate items): in
Redis through the library's atomic Lua script, so concurrent hits from any number
of nodes can never let a window hold more than its limit; in memory through our
own deque per window (see ``MemoryLimitStorage`` for the measured reason).

Concurrency caps are not something ``limits`` does, so they are ours: in memory a
counter per key; in Redis a sorted set of leases (request id -> expiry), taken and
checked in one Lua script. A lease rather than INCR/DECR because a node that dies
mid-request would leak an INCR forever; a lease expires on its own.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

from limits import RateLimitItem
from limits.aio.storage import RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError

from headwater.resilience._guard import Guard
from headwater.resilience._redis import REDIS_DOWN, RedisOptions, connect_redis, redis_guard

#: Errors meaning "the shared counters are unreachable": the outage policy applies.
STORAGE_DOWN: tuple[type[Exception], ...] = (StorageError, *REDIS_DOWN)

# KEYS[1]: the lease set. ARGV: lease id, limit, lease milliseconds.
# Redis's own clock, so that every node agrees on which leases have expired.
_ACQUIRE = """
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now_ms)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  return 0
end
redis.call('ZADD', KEYS[1], now_ms + tonumber(ARGV[3]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]))
return 1
"""


class LimitStorage(Protocol):
    async def hit(self, item: RateLimitItem, *ids: str) -> bool: ...

    async def stats(self, item: RateLimitItem, *ids: str) -> tuple[float, int]:
        """(epoch second a slot frees up, requests remaining in the window)."""
        ...

    async def acquire(self, key: str, limit: int, lease: str, seconds: int) -> bool: ...

    async def release(self, key: str, lease: str) -> None: ...

    async def aclose(self) -> None: ...


class MemoryLimitStorage:
    """Moving windows and concurrency counters in this process.

    Not ``limits.aio.storage.MemoryStorage``: on every hit it schedules a sweep task
    that walks *all* keys with one ``asyncio.to_thread`` hop per key. With 1,000
    clients that cost 13 % of a minimal endpoint's throughput on uvicorn
    (benchmarks/production.py: ratio 0.88); this one keeps each window's timestamps
    in a deque, trims the front on use, and drops idle keys in an amortized sweep.
    The semantics are limits' moving window: at most ``amount`` hits in any
    ``expiry`` seconds.
    """

    #: Hits between two sweeps for idle keys.
    SWEEP_EVERY = 10_000

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._windows: dict[str, tuple[deque[float], float]] = {}
        self._running: dict[str, int] = {}
        self._until_sweep = self.SWEEP_EVERY

    def _window(self, item: RateLimitItem, ids: tuple[str, ...], now: float) -> deque[float]:
        # Cheaper than ``item.key_for`` (which sanitises every part): ids are ours.
        key = f"{item.amount}/{item.get_expiry()}/{'/'.join(ids)}"
        found = self._windows.get(key)
        if found is None:
            hits: deque[float] = deque()
            self._windows[key] = (hits, float(item.get_expiry()))
            return hits
        hits, period = found
        cutoff = now - period
        while hits and hits[0] <= cutoff:
            hits.popleft()
        return hits

    async def hit(self, item: RateLimitItem, *ids: str) -> bool:
        now = self._clock()
        self._until_sweep -= 1
        if self._until_sweep <= 0:
            self._sweep(now)
        hits = self._window(item, ids, now)
        if len(hits) >= item.amount:
            return False
        hits.append(now)
        return True

    async def stats(self, item: RateLimitItem, *ids: str) -> tuple[float, int]:
        now = self._clock()
        hits = self._window(item, ids, now)
        reset_at = hits[0] + item.get_expiry() if hits else now
        return reset_at, max(0, item.amount - len(hits))

    def _sweep(self, now: float) -> None:
        self._until_sweep = self.SWEEP_EVERY
        idle = [
            k for k, (hits, period) in self._windows.items() if not hits or hits[-1] <= now - period
        ]
        for key in idle:
            del self._windows[key]

    async def acquire(self, key: str, limit: int, lease: str, seconds: int) -> bool:
        running = self._running.get(key, 0)
        if running >= limit:
            return False
        self._running[key] = running + 1
        return True

    async def release(self, key: str, lease: str) -> None:
        running = self._running.get(key, 0) - 1
        if running > 0:
            self._running[key] = running
        else:
            self._running.pop(key, None)

    async def aclose(self) -> None:
        return None


class RedisLimitStorage:
    def __init__(
        self,
        url: str,
        *,
        prefix: str = "hw:rl",
        options: RedisOptions | None = None,
        guard: Guard | None = None,
    ) -> None:
        self.client = connect_redis(url, options)
        self.guard = guard or redis_guard("redis:ratelimit", options)
        self.prefix = prefix
        # Same pool (fast-failing, no built-in retries) for limits' calls and ours.
        self._storage = RedisStorage(
            f"async+{url}",
            implementation="redispy",
            wrap_exceptions=True,
            key_prefix=prefix,
            connection_pool=self.client.connection_pool,  # type: ignore[arg-type]
        )
        self.limiter = MovingWindowRateLimiter(self._storage)
        self._acquire: Any = self.client.register_script(_ACQUIRE)

    async def hit(self, item: RateLimitItem, *ids: str) -> bool:
        return await self.guard.call(lambda: self.limiter.hit(item, *ids))

    async def stats(self, item: RateLimitItem, *ids: str) -> tuple[float, int]:
        window = await self.guard.call(lambda: self.limiter.get_window_stats(item, *ids))
        return window.reset_time, window.remaining

    async def acquire(self, key: str, limit: int, lease: str, seconds: int) -> bool:
        name = f"{self.prefix}:c:{key}"
        got = await self.guard.call(
            lambda: self._acquire(keys=[name], args=[lease, limit, seconds * 1000])
        )
        return bool(got)

    async def release(self, key: str, lease: str) -> None:
        name = f"{self.prefix}:c:{key}"
        await self.guard.call(lambda: self.client.zrem(name, lease))

    async def aclose(self) -> None:
        await self.client.aclose()
