"""The cache with L2 on a real Redis: stampedes, early refresh, nodes, outages.

Each "node" is a ``Cache`` of its own (own L1, own invalidation subscription) on
the same Redis and namespace, as two server processes would be.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from headwater.cache import Cache, CachePolicy
from headwater.resilience import BreakerConfig, CircuitState, RedisOptions
from headwater.testing._redis import RedisServer

pytestmark = pytest.mark.anyio

FAST = RedisOptions(timeout=0.3, breaker=BreakerConfig(failure_threshold=2, reset_timeout=0.3))


@pytest.fixture
async def nodes(redis_url: str, redis_namespace: str) -> AsyncIterator[list[Cache]]:
    """Two cache nodes sharing one Redis namespace."""
    caches = [
        Cache.from_url(redis_url, namespace=redis_namespace, serializer=s, options=FAST)
        for s in ("json", "json")
    ]
    for cache in caches:
        await cache.start()
    yield caches
    for cache in caches:
        await cache.aclose()


class Counter:
    def __init__(self, delay: float = 0.0) -> None:
        self.calls = 0
        self.delay = delay
        self.value = "v1"

    async def __call__(self) -> dict[str, object]:
        self.calls += 1
        await asyncio.sleep(self.delay)
        return {"value": self.value, "call": self.calls}


async def test_a_stampede_of_200_readers_on_an_expired_key_computes_once(
    nodes: list[Cache],
) -> None:
    cache = nodes[0]
    compute = Counter(delay=0.05)
    policy = CachePolicy("short", ttl=0.2, beta=0)
    await cache.get_or_compute("hot", compute, policy=policy)
    await asyncio.sleep(0.25)  # expired in L1 and L2
    compute.calls = 0
    results = await asyncio.gather(
        *(cache.get_or_compute("hot", compute, policy=policy) for _ in range(200))
    )
    assert compute.calls == 1
    assert all(r == results[0] for r in results)
    # ...and the value went to Redis: the other node reads it without computing.
    assert await nodes[1].get_or_compute("hot", compute, policy=policy) == results[0]
    assert compute.calls == 1
    assert nodes[1].stats.l2_hits == 1


async def test_xfetch_refreshes_a_hot_key_before_expiry_with_one_recomputation(
    nodes: list[Cache],
) -> None:
    cache = nodes[0]
    compute = Counter(delay=0.1)
    # delta (0.1 s) x beta (5) makes refreshes likely in the last ~second of a 1.5 s ttl.
    policy = CachePolicy("hot", ttl=1.5, l1_ttl=10, beta=5.0)
    first = await cache.get_or_compute("hot", compute, policy=policy)
    expires = time.time() + 1.5
    seen = []
    while time.time() < expires - 0.05:
        batch = await asyncio.gather(
            *(cache.get_or_compute("hot", compute, policy=policy) for _ in range(20))
        )
        seen.extend(batch)
        if compute.calls >= 2 and batch[-1] != first:
            break
        await asyncio.sleep(0.01)
    assert time.time() < expires, "the refresh came only at expiry"
    assert compute.calls == 2  # the first computation and exactly one early refresh
    assert cache.stats.refreshes == 1
    assert cache.stats.misses == 1
    assert {r["call"] for r in seen} <= {1, 2}  # every reader got a value without waiting


async def test_a_refresh_runs_on_one_node_only(nodes: list[Cache]) -> None:
    compute = Counter(delay=0.2)
    policy = CachePolicy("hot", ttl=30, l1_ttl=30, beta=1e9)  # every hit draws a refresh
    await nodes[0].get_or_compute("k", compute, policy=policy)
    await nodes[1].get_or_compute("k", compute, policy=policy)
    assert compute.calls == 1
    await asyncio.gather(*(n.get_or_compute("k", compute, policy=policy) for n in nodes))
    await asyncio.sleep(0.35)
    assert compute.calls == 2  # one refresh between the two nodes (Redis lock)


async def test_a_tag_invalidated_on_node_a_drops_the_entry_on_node_b(
    nodes: list[Cache],
) -> None:
    a, b = nodes
    compute = Counter()
    tags = ["readmodel:guests"]
    assert (await b.get_or_compute("g", compute, tags=tags))["value"] == "v1"
    assert (await b.get_or_compute("g", compute, tags=tags))["value"] == "v1"
    assert b.stats.l1_hits == 1
    compute.value = "v2"
    await a.invalidate_tags("readmodel:guests")
    for _ in range(100):  # the pub/sub message is asynchronous
        if b.l1.get(b.scoped("g"), time.time()) is None:
            break
        await asyncio.sleep(0.01)
    assert (await b.get_or_compute("g", compute, tags=tags))["value"] == "v2"


async def test_a_missed_invalidation_message_is_caught_by_l2_tag_versions(
    redis_url: str, redis_namespace: str
) -> None:
    # Node B has no subscription at all: only the versions in L2 can tell it.
    a = Cache.from_url(redis_url, namespace=redis_namespace)
    b_full = Cache.from_url(redis_url, namespace=redis_namespace)
    b = Cache(l2=b_full.l2)
    compute = Counter()
    l2_only = CachePolicy("l2", ttl=60, use_l1=False)
    try:
        assert (await b.get_or_compute("k", compute, policy=l2_only, tags=["t"]))["call"] == 1
        assert (await b.get_or_compute("k", compute, policy=l2_only, tags=["t"]))["call"] == 1
        await a.invalidate_tags("t")
        assert (await b.get_or_compute("k", compute, policy=l2_only, tags=["t"]))["call"] == 2
        assert b.stats.tag_rejections == 1
    finally:
        await a.aclose()
        await b_full.aclose()


async def test_msgpack_nodes_share_values(redis_url: str, redis_namespace: str) -> None:
    a = Cache.from_url(redis_url, namespace=redis_namespace, serializer="msgpack")
    b = Cache.from_url(redis_url, namespace=redis_namespace, serializer="msgpack")
    compute = Counter()
    try:
        value = await a.get_or_compute("k", compute)
        assert await b.get_or_compute("k", compute) == value
        assert compute.calls == 1
    finally:
        await a.aclose()
        await b.aclose()


async def test_redis_stopped_mid_test_reads_keep_answering_from_the_read_model(
    private_redis: RedisServer,
) -> None:
    cache = Cache.from_url(private_redis.url, options=FAST)
    await cache.start()
    read_model = {"v": 1}

    async def query() -> int:
        return read_model["v"]

    policy = CachePolicy("p", ttl=60, l1_ttl=0.05)
    try:
        assert await cache.get_or_compute("k", query, policy=policy, tags=["t"]) == 1
        private_redis.stop()
        await asyncio.sleep(0.1)
        read_model["v"] = 2
        await cache.invalidate_tags("t")  # Redis is down: deferred, L1 dropped
        started = time.perf_counter()
        for _ in range(50):
            assert await cache.get_or_compute("k", query, policy=policy, tags=["t"]) == 2
            await asyncio.sleep(0.002)
        # The breaker opened after a couple of failures: reads cost no Redis timeouts.
        assert time.perf_counter() - started < 2.0
        breaker = cache.l2.guard.breaker if cache.l2 else None
        assert breaker is not None
        assert breaker.state is not CircuitState.CLOSED
        assert cache.stats.l2_errors >= 1

        private_redis.start()  # back, empty
        await asyncio.sleep(0.4)  # past the breaker's reset timeout
        read_model["v"] = 3
        await cache.invalidate_tags("t")
        for _ in range(100):
            value = await cache.get_or_compute("k", query, policy=policy, tags=["t"])
            if value == 3 and breaker.state is CircuitState.CLOSED:
                break
            await asyncio.sleep(0.02)
        assert value == 3
        assert breaker.state is CircuitState.CLOSED
    finally:
        await cache.aclose()


async def test_invalidations_made_while_redis_was_unreachable_reach_l2_when_it_is_back(
    private_redis: RedisServer,
) -> None:
    a = Cache.from_url(private_redis.url, options=FAST)
    b = Cache.from_url(private_redis.url, options=FAST)
    l2_only = CachePolicy("l2", ttl=60, use_l1=False)
    compute = Counter()
    try:
        await b.get_or_compute("k", compute, policy=l2_only, tags=["t"])
        assert a.l2 is not None
        real = a.l2.client
        # A partition of node A only: its calls fail, Redis and node B are fine.
        a.l2.client = type(real).from_url("redis://127.0.0.1:1", socket_connect_timeout=0.1)
        await a.invalidate_tags("t")
        assert a.stats.l2_errors == 1
        assert (await b.get_or_compute("k", compute, policy=l2_only, tags=["t"]))["call"] == 1
        await a.l2.client.aclose()
        a.l2.client = real
        await asyncio.sleep(0.35)  # A's breaker lets a probe through
        await a.get_or_compute("other", compute, policy=l2_only)  # any L2 read flushes
        assert (await b.get_or_compute("k", compute, policy=l2_only, tags=["t"]))["call"] == 3
    finally:
        await a.aclose()
        await b.aclose()
