"""Where counters live: this process (embedded default) or Redis (shared by N nodes).

Request-rate windows are moving windows (at most ``amount`` hits in any ``expiry``
seconds, with ``limits``' rate items): in Redis as a sorted set that a node reserves
hits from in batches, through one atomic Lua script, so concurrent hits from any
number of nodes can never let a window hold more than its limit, and most requests
make no round trip (see ``RedisLimitStorage``); in memory through our own deque per
window (see ``MemoryLimitStorage`` for the measured reason).

Concurrency caps are not something ``limits`` does, so they are ours: in memory a
counter per key; in Redis a sorted set of leases (request id -> expiry), taken and
checked in one Lua script, for every concurrent request of a node at once. A lease
rather than INCR/DECR because a node that dies mid-request would leak an INCR
forever; a lease expires on its own.
"""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

from limits import RateLimitItem
from limits.errors import StorageError

from headwater.resilience._guard import Guard
from headwater.resilience._redis import REDIS_DOWN, RedisOptions, connect_redis, redis_guard

#: Errors meaning "the shared counters are unreachable": the outage policy applies.
STORAGE_DOWN: tuple[type[Exception], ...] = (StorageError, *REDIS_DOWN)

# Every Redis operation of a node's concurrent requests, in one call. KEYS: one per
# operation. ARGV: six per operation, the first naming it:
# * "w" (reserve hits in a window, a sorted set of hits scored by the millisecond they
#   stop counting from): limit, window ms, hits wanted (0: only look), hold ms, a token
#   unique to the reservation. Gives {granted, hits in the window, oldest score}.
# * "a" (acquire a concurrency lease): lease id, limit, lease ms. Gives 1 or 0.
# * "r" (release a lease): lease id. Gives 1.
# Redis's own clock, so that every node agrees on what has expired.
_BATCH = """
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local out = {}
for i = 1, #KEYS do
  local base = (i - 1) * 6
  local op = ARGV[base + 1]
  local key = KEYS[i]
  if op == 'w' then
    local limit = tonumber(ARGV[base + 2])
    local window = tonumber(ARGV[base + 3])
    local hold = tonumber(ARGV[base + 5])
    redis.call('ZREMRANGEBYSCORE', key, '-inf', now_ms - window)
    local used = redis.call('ZCARD', key)
    local grant = math.min(tonumber(ARGV[base + 4]), math.max(1, math.floor((limit - used) / 16)))
    grant = math.min(grant, limit - used)
    if grant > 0 then
      local members = {}
      for n = 1, grant do
        members[#members + 1] = now_ms + hold
        members[#members + 1] = ARGV[base + 6] .. ':' .. n
      end
      redis.call('ZADD', key, unpack(members))
      redis.call('PEXPIRE', key, window + hold)
      used = used + grant
    else
      grant = 0
    end
    local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
    local first = now_ms
    if oldest[2] then first = tonumber(oldest[2]) end
    out[i] = {grant, used, first}
  elseif op == 'a' then
    local ms = tonumber(ARGV[base + 4])
    redis.call('ZREMRANGEBYSCORE', key, '-inf', now_ms)
    if redis.call('ZCARD', key) >= tonumber(ARGV[base + 3]) then
      out[i] = 0
    else
      redis.call('ZADD', key, now_ms + ms, ARGV[base + 2])
      redis.call('PEXPIRE', key, ms)
      out[i] = 1
    end
  else
    redis.call('ZREM', key, ARGV[base + 2])
    out[i] = 1
  end
end
return out
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


#: (key, the six arguments of ``_BATCH``, the future waiting for the result)
_Op = tuple[str, tuple[str | int, ...], "asyncio.Future[Any]"]


class _Allowance:
    """Hits this node reserved in a shared window and has not used yet, and what the
    reservation saw of the window (for the ``RateLimit-*`` headers)."""

    __slots__ = ("granted", "left", "limit", "reset_at", "until", "used")

    def __init__(self, left: int, used: int, limit: int, reset_at: float, until: float) -> None:
        self.granted = left
        self.left = left
        self.used = used
        self.limit = limit
        self.reset_at = reset_at
        self.until = until


class RedisLimitStorage:
    """Counters shared by every node through Redis, without a round trip per request.

    * Windows: a node reserves hits in a batch (one Lua script, atomic, on Redis's
      clock) and spends them locally. A reservation is counted in Redis when it is
      made, so no set of nodes can ever be allowed more than a window's limit. Batches
      shrink as the window fills (a sixteenth of what is left, at most ``batch``), so
      near the limit each node reserves one hit at a time and the window is filled
      exactly; a window that is not busy reserves one hit at a time, and a busy one
      doubles its batch each time it spent the last. Unspent hits lapse after
      ``hold`` seconds (a tenth of the window, at most one second); each reserved
      hit is stamped ``hold`` seconds ahead, so it stays counted for a full window
      after the latest moment it could be spent.
    * Concurrency leases: still checked in Redis for every request (a cap on what is
      in flight across nodes cannot be spent ahead).
    * Every call a node has to make (reservations on any number of keys, acquires,
      releases) waits for the next script call, one per round trip: with many
      requests in flight on many keys (each client address its own), a node pays one
      round trip for all of them instead of one per request and window.
    """

    #: Most hits one reservation takes.
    BATCH = 32
    #: Longest an unspent reservation is kept (a tenth of a shorter window).
    HOLD_SECONDS = 1.0
    #: Hits between two sweeps of lapsed reservations.
    SWEEP_EVERY = 10_000

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
        self._script: Any = self.client.register_script(_BATCH)
        self._allowances: dict[str, _Allowance] = {}
        self._reserving: dict[str, asyncio.Future[_Allowance]] = {}
        self._until_sweep = self.SWEEP_EVERY
        self._tokens = (f"{uuid.uuid4().hex[:12]}:{n}" for n in itertools.count())
        self._pending: list[_Op] = []
        self._flushing = False
        self._flusher: asyncio.Task[None] | None = None

    # --- windows --------------------------------------------------------------------------

    def _window_key(self, item: RateLimitItem, ids: tuple[str, ...]) -> str:
        return f"{self.prefix}:w:{item.amount}/{item.get_expiry()}/{'/'.join(ids)}"

    async def hit(self, item: RateLimitItem, *ids: str) -> bool:
        key = self._window_key(item, ids)
        while True:
            now = time.monotonic()
            found = self._allowances.get(key)
            if found is not None and found.left > 0 and now < found.until:
                found.left -= 1
                return True
            pending = self._reserving.get(key)
            if pending is None:
                break
            # One reservation per window at a time: the requests that arrive meanwhile
            # wait for it and spend from it, instead of each reserving a batch.
            if not (await asyncio.shield(pending)).granted:
                return False  # the window is full; otherwise try to spend (or reserve) again
        self._until_sweep -= 1
        if self._until_sweep <= 0:
            self._sweep(now)
        # A window that spent its whole last batch gets twice as many next time; a cold
        # one (most keys of spread traffic: one client address each) reserves one hit,
        # so it costs Redis no more than a plain hit would, and nothing lapses unspent.
        last = self._allowances.get(key)
        wanted = 1 if last is None or last.left else min(self.BATCH, 2 * max(1, last.granted))
        allowance = await self._reserve_hits(key, item, wanted, now)
        if allowance.left <= 0:
            return False
        allowance.left -= 1
        return True

    async def _reserve_hits(
        self, key: str, item: RateLimitItem, wanted: int, now: float
    ) -> _Allowance:
        expiry_ms = item.get_expiry() * 1000
        hold_ms = min(int(self.HOLD_SECONDS * 1000), expiry_ms // 10)
        token = next(self._tokens)
        pending: asyncio.Future[_Allowance] = asyncio.get_running_loop().create_future()
        self._reserving[key] = pending
        try:
            granted, used, first_ms = await self._submit(
                key, ("w", item.amount, expiry_ms, wanted, hold_ms, token)
            )
        except BaseException as exc:
            pending.set_exception(exc)
            pending.exception()  # retrieved: nobody may be waiting
            raise
        finally:
            if self._reserving.get(key) is pending:
                del self._reserving[key]
        allowance = _Allowance(
            left=int(granted),
            used=int(used),
            limit=item.amount,
            reset_at=(int(first_ms) + expiry_ms) / 1000,
            until=now + hold_ms / 1000,
        )
        previous = self._allowances.get(key)
        if previous is not None and previous.left > 0 and time.monotonic() < previous.until:
            # Still unspent and not lapsed: keep it, with the earlier deadline.
            allowance.left += previous.left
            allowance.until = previous.until
        self._allowances[key] = allowance
        pending.set_result(allowance)
        return allowance

    async def stats(self, item: RateLimitItem, *ids: str) -> tuple[float, int]:
        key = self._window_key(item, ids)
        now = time.monotonic()
        found = self._allowances.get(key)
        if found is None or now >= found.until:
            pending = self._reserving.get(key)
            if pending is not None:
                found = await asyncio.shield(pending)
            else:
                found = await self._reserve_hits(key, item, 0, now)  # a look, no reservation
        return found.reset_at, max(0, found.limit - found.used + found.left)

    def _sweep(self, now: float) -> None:
        self._until_sweep = self.SWEEP_EVERY
        lapsed = [key for key, a in self._allowances.items() if a.until <= now]
        for key in lapsed:
            del self._allowances[key]

    # --- concurrency leases, batched per round trip -----------------------------------------

    async def acquire(self, key: str, limit: int, lease: str, seconds: int) -> bool:
        name = f"{self.prefix}:c:{key}"
        return bool(await self._submit(name, ("a", lease, limit, seconds * 1000, 0, 0)))

    async def release(self, key: str, lease: str) -> None:
        await self._submit(f"{self.prefix}:c:{key}", ("r", lease, 0, 0, 0, 0))

    # --- one script call per round trip ---------------------------------------------------

    async def _submit(self, key: str, args: tuple[str | int, ...]) -> Any:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._pending.append((key, args, future))
        if not self._flushing:
            # Every operation of this loop turn (and of the turns a round trip takes)
            # goes in the next call: with many requests in flight, on many keys, a
            # node makes one round trip where it made one per request and window.
            self._flushing = True
            self._flusher = loop.create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        batch: list[_Op] = []
        try:
            while self._pending:
                batch, self._pending = self._pending, []
                keys = [key for key, _, _ in batch]
                args = [arg for _, op, _ in batch for arg in op]
                try:
                    results = await self.guard.call(
                        lambda keys=keys, args=args: self._script(keys=keys, args=args)  # type: ignore[misc]
                    )
                except Exception as exc:
                    for *_, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    batch = []
                    continue
                for (key, op, future), result in zip(batch, results, strict=True):
                    if not future.done():
                        future.set_result(result)
                    elif op[0] == "a" and int(result):
                        # The request went away while its lease was being taken: give the
                        # slot back now rather than hold it until it expires.
                        orphan = asyncio.get_running_loop().create_future()
                        self._pending.append((key, ("r", op[1], 0, 0, 0, 0), orphan))
                batch = []
        finally:
            self._flushing = False
            for *_, future in [*batch, *self._pending]:
                if not future.done():  # cancelled mid-flush (the loop is closing)
                    future.set_exception(ConnectionError("rate limit storage closed"))
            self._pending = []

    async def aclose(self) -> None:
        await self.client.aclose()
