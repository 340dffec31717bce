"""``Cache``: L1 in front of L2, XFetch early refresh, single-flight, tags, fallback.

::

    cache = Cache.from_url("redis://127.0.0.1:6379/0")   # or Cache() for L1 only
    await cache.start()
    board = await cache.get_or_compute(
        f"leaderboard:{game_id}", lambda: load_leaderboard(game_id),
        policy=REALTIME, tags=[read_model_tag("scores")],
    )
    await cache.invalidate_tags(read_model_tag("scores"))    # every node drops it

Hand-written rather than cashews (DESIGN §3 allows either): the guarantees asked
for here live between the levels, not in them — one computation per key per node at
a time for misses *and* early refreshes, tag versions checked on every L2 read (so a
lost pub/sub message cannot serve an invalidated value), stale-if-error, and a
Redis outage costing nothing per call (the breaker) while reads still answer.
cashews has no XFetch, pickles by default, and its tags do not close the
compute-then-store race; adapting it would be more code than this.

Keys are scoped by tenant from the tenancy context (never from client input):
``tenant=CURRENT`` (the default) uses the caller's tenant; ``SHARED`` is for values
that are the same for everyone; a string names a tenant explicitly (a job).

Values are shared between callers on a hit: treat them as immutable.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from headwater.cache._entry import Entry, xfetch_due
from headwater.cache._memory import L1Item, MemoryCache
from headwater.cache._policies import FREQUENT, CachePolicy
from headwater.cache._redis import L2Read, RedisCache
from headwater.cache._serializers import SERIALIZERS
from headwater.cache._stats import CacheStats
from headwater.cache._tags import read_model_tag
from headwater.identity._context import current_tenant
from headwater.resilience._redis import REDIS_DOWN, RedisOptions, connect_redis, redis_guard

T = TypeVar("T")
logger = logging.getLogger("headwater.cache")


class Scope(enum.Enum):
    CURRENT = "current"
    SHARED = "shared"


CURRENT = Scope.CURRENT
SHARED = Scope.SHARED


class Cache:
    def __init__(
        self,
        *,
        l1: MemoryCache | None = None,
        l2: RedisCache | None = None,
        listener: Any = None,
        clock: Callable[[], float] = time.time,
        degraded_l1_ttl: float = 1.0,
    ) -> None:
        self.l1 = l1 or MemoryCache()
        self.l2 = l2
        self.stats = CacheStats()
        self.node_id = uuid.uuid4().hex[:12]
        self._clock = clock
        self._listener = listener
        self._degraded_l1_ttl = degraded_l1_ttl
        #: False while the invalidation channel is down (only with an L2).
        self.channel_ok = l2 is None
        self._flights: dict[str, asyncio.Task[Any]] = {}
        self._pending_tags: set[str] = set()

    @classmethod
    def from_url(
        cls,
        redis_url: str | None,
        *,
        serializer: str = "json",
        max_entries: int = 10_000,
        namespace: str = "hw:cache",
        options: RedisOptions | None = None,
        clock: Callable[[], float] = time.time,
    ) -> Cache:
        """L1 only without a URL; L1 + L2 (+ the invalidation channel) with one."""
        l1 = MemoryCache(max_entries)
        if redis_url is None:
            return cls(l1=l1, clock=clock)
        from headwater.cache._invalidation import InvalidationListener

        l2 = RedisCache(
            connect_redis(redis_url, options),
            redis_guard("redis:cache", options),
            SERIALIZERS[serializer],
            namespace,
        )
        cache = cls(l1=l1, l2=l2, clock=clock)
        cache._listener = InvalidationListener(
            redis_url, l2.channel, on_tags=cache._remote_tags, on_connection=cache._channel
        )
        return cache

    # --- lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        if self._listener is not None:
            self._listener.start()
            # Give the subscription a moment so the first invalidations are heard;
            # a Redis that is down does not hold start-up.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(1.0):
                    await self._listener.connected.wait()

    async def aclose(self) -> None:
        if self._listener is not None:
            await self._listener.stop()
        for task in list(self._flights.values()):
            task.cancel()
        for task in list(self._flights.values()):
            with contextlib.suppress(BaseException):
                await task
        if self.l2 is not None:
            await self.l2.client.aclose()

    # --- reads --------------------------------------------------------------------------

    def scoped(self, key: str, tenant: str | Scope = CURRENT) -> str:
        if tenant is CURRENT:
            return f"{current_tenant() or '-'}:{key}"
        if tenant is SHARED:
            return f"*:{key}"
        return f"{tenant}:{key}"

    async def get_or_compute(
        self,
        key: str,
        compute: Callable[[], Awaitable[T]],
        *,
        policy: CachePolicy = FREQUENT,
        tags: Sequence[str] = (),
        tenant: str | Scope = CURRENT,
    ) -> T:
        full = self.scoped(key, tenant)
        if policy.use_l1:
            now = self._clock()
            item = self.l1.get(full, now)
            if item is not None:
                entry = item.entry
                if now < item.l1_until and now < entry.expires_at:
                    self.stats.l1_hits += 1
                    if xfetch_due(entry, now, policy.beta) and full not in self._flights:
                        self._start(full, compute, policy, tags, entry)
                    value: T = entry.value
                    return value
        task = self._flights.get(full)
        if task is None:
            task = self._start(full, compute, policy, tags, None)
        else:
            self.stats.coalesced += 1
        # Shielded: a caller that gives up (client gone) must not cancel the
        # computation the other callers of this key are waiting for.
        result: T = await asyncio.shield(task)
        return result

    def _start(
        self,
        full: str,
        compute: Callable[[], Awaitable[Any]],
        policy: CachePolicy,
        tags: Sequence[str],
        current: Entry | None,
    ) -> asyncio.Task[Any]:
        task = asyncio.create_task(self._load(full, compute, policy, tuple(tags), current))
        self._flights[full] = task

        def done(t: asyncio.Task[Any]) -> None:
            if self._flights.get(full) is t:
                del self._flights[full]
            if not t.cancelled() and t.exception() is not None and current is not None:
                logger.warning("early refresh of %s failed: %r", full, t.exception())

        task.add_done_callback(done)
        return task

    async def _read_l2(self, full: str, tags: Sequence[str]) -> L2Read | None:
        assert self.l2 is not None
        try:
            await self._flush_pending()
            return await self.l2.get(full, tags)
        except REDIS_DOWN:
            self.stats.l2_errors += 1
            return None

    async def _load(
        self,
        full: str,
        compute: Callable[[], Awaitable[Any]],
        policy: CachePolicy,
        tags: tuple[str, ...],
        current: Entry | None,
    ) -> Any:
        """A miss (``current`` None) or an early refresh of ``current``: one per key."""
        generations = self.l1.generations(tags)
        stale = current
        if stale is None and policy.use_l1:
            item = self.l1.get(full, self._clock())
            stale = None if item is None else item.entry
        use_l2 = self.l2 is not None and policy.use_l2
        read = await self._read_l2(full, tags) if use_l2 else None
        if read is not None:
            if read.rejected:
                self.stats.tag_rejections += 1
                stale = None
            found = read.entry
            if found is not None and self._clock() < found.expires_at:
                newer = current is None or found.expires_at > current.expires_at
                if newer:  # fresh in L2 (another node computed or refreshed it)
                    if current is None:
                        self.stats.l2_hits += 1
                    self._keep(full, found, policy, tags, generations)
                    return found.value
            if found is not None and stale is None:
                stale = found
            if current is not None and self.l2 is not None:
                # One refresh across all nodes: the others keep serving their copy.
                try:
                    if not await self.l2.try_lock(full, max(1.0, 4 * current.delta)):
                        return current.value
                except REDIS_DOWN:
                    self.stats.l2_errors += 1
        if current is None:
            self.stats.misses += 1
        else:
            self.stats.refreshes += 1
        started = time.perf_counter()
        try:
            value = await compute()
        except Exception:
            if stale is not None and self._clock() < stale.expires_at + policy.stale_if_error:
                self.stats.stale += 1
                return stale.value
            raise
        delta = time.perf_counter() - started
        versions = {} if read is None else read.versions
        entry = Entry(value, self._clock() + policy.ttl, delta, versions)
        if use_l2 and self.l2 is not None:
            data = self.l2.encode(entry)
            entry.value = self.l2.serializer.loads(data)[-1]  # L1 holds what L2 would give
            try:
                await self.l2.set(full, data, policy.ttl + policy.stale_if_error)
            except REDIS_DOWN:
                self.stats.l2_errors += 1
        self._keep(full, entry, policy, tags, generations)
        return entry.value

    def _keep(
        self,
        full: str,
        entry: Entry,
        policy: CachePolicy,
        tags: tuple[str, ...],
        generations: tuple[int, ...],
    ) -> None:
        if not policy.use_l1:
            return
        now = self._clock()
        trust = entry.expires_at
        if self.l2 is not None:
            trust = min(trust, now + policy.l1_ttl)
            if not self.channel_ok:
                trust = min(trust, now + self._degraded_l1_ttl)
        keep = entry.expires_at + policy.stale_if_error
        self.l1.set(full, L1Item(entry, trust, keep, tags, generations))

    # --- writes and invalidation ------------------------------------------------------

    async def delete(self, key: str, *, tenant: str | Scope = CURRENT) -> None:
        full = self.scoped(key, tenant)
        self.l1.delete(full)
        if self.l2 is not None:
            try:
                await self.l2.delete(full)
            except REDIS_DOWN:
                self.stats.l2_errors += 1

    async def invalidate_tags(self, *tags: str) -> None:
        """Drop every entry built with any of ``tags``, here at once and on every node.

        When Redis cannot be reached the tags are remembered and their versions
        bumped before the next L2 read, so entries written before the outage are
        never served as fresh afterwards.
        """
        if not tags:
            return
        self.stats.invalidations += len(tags)
        self.l1.invalidate(tags)
        if self.l2 is not None:
            self._pending_tags.update(tags)
            try:
                await self._flush_pending()
            except REDIS_DOWN:
                self.stats.l2_errors += 1
                logger.warning("cache invalidation of %s deferred: Redis unreachable", tags)

    async def read_model_changed(self, *tables: str) -> None:
        """The hook a projection calls after committing rows to ``tables``."""
        await self.invalidate_tags(*(read_model_tag(t) for t in tables))

    async def _flush_pending(self) -> None:
        if self._pending_tags and self.l2 is not None:
            tags = sorted(self._pending_tags)
            await self.l2.invalidate(tags, self.node_id)
            self._pending_tags.difference_update(tags)

    def _remote_tags(self, tags: list[str], origin: str) -> None:
        if origin != self.node_id:
            self.l1.invalidate(tags)

    def _channel(self, up: bool) -> None:
        # Either way messages may have been missed: copies made before cannot be trusted.
        self.channel_ok = up
        self.l1.clear()
