"""Counters in a real Redis: shared by nodes, atomic, and what each limit does in an outage."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from headwater.identity._principal import ANONYMOUS
from headwater.ratelimit import (
    EndpointLimit,
    Outage,
    RateLimitConfig,
    RateLimiter,
    RedisLimitStorage,
    TierLimit,
)
from headwater.resilience import BreakerConfig, CircuitState, RedisOptions
from headwater.testing._redis import RedisServer
from tests.ratelimit.support import client, gate, make_app

pytestmark = pytest.mark.anyio

FAST = RedisOptions(timeout=0.3, breaker=BreakerConfig(failure_threshold=2, reset_timeout=0.3))


def node(url: str, config: RateLimitConfig, options: RedisOptions = FAST) -> RateLimiter:
    storage = RedisLimitStorage(url, prefix=config.key_prefix, options=options)
    return RateLimiter(config, storage)


@pytest.fixture
async def two_nodes(
    redis_url: str, redis_namespace: str, request: pytest.FixtureRequest
) -> AsyncIterator[list[RateLimiter]]:
    per_minute, concurrent = request.param
    config = RateLimitConfig(
        tiers={"anonymous": TierLimit(per_minute=per_minute, concurrent=concurrent)},
        endpoints=(),
        key_prefix=redis_namespace,
        # A slow machine's timeout must refuse, never count locally, here.
        tier_on_outage=Outage.CLOSED,
    )
    limiters = [node(redis_url, config, RedisOptions(timeout=2.0)) for _ in range(2)]
    yield limiters
    for limiter in limiters:
        await limiter.storage.aclose()


@pytest.mark.parametrize("two_nodes", [(25, 1000)], indirect=True, ids=["rate"])
async def test_concurrent_hits_on_two_nodes_never_exceed_the_limit(
    two_nodes: list[RateLimiter],
) -> None:
    async def one(i: int) -> bool:
        limiter = two_nodes[i % 2]
        decision = await limiter.check(ANONYMOUS, "GET", "/x", "10.1.1.1")
        if decision.lease is not None:
            await limiter.release(decision.lease)
        return decision.allowed

    results = await asyncio.gather(*(one(i) for i in range(200)))
    assert sum(results) <= 25
    if not any(sum(n.stats.outage.values()) for n in two_nodes):
        assert sum(results) == 25
    assert two_nodes[0].stats.allowed > 0
    assert two_nodes[1].stats.allowed > 0


@pytest.mark.parametrize("two_nodes", [(1000, 3)], indirect=True, ids=["concurrency"])
async def test_the_concurrency_cap_is_shared_by_nodes_and_released(
    two_nodes: list[RateLimiter],
) -> None:
    a, b = two_nodes
    held = [await n.check(ANONYMOUS, "GET", "/x", "10.2.2.2") for n in (a, b, a)]
    assert all(d.allowed for d in held)
    refused = await b.check(ANONYMOUS, "GET", "/x", "10.2.2.2")
    assert not refused.allowed
    assert refused.reason == "concurrency"
    assert held[0].lease is not None
    await a.release(held[0].lease)
    assert (await b.check(ANONYMOUS, "GET", "/x", "10.2.2.2")).allowed


async def test_a_lease_left_by_a_dead_node_expires(redis_url: str, redis_namespace: str) -> None:
    storage = RedisLimitStorage(redis_url, prefix=redis_namespace, options=FAST)
    try:
        assert await storage.acquire("who", 1, "lease-1", 1)
        assert not await storage.acquire("who", 1, "lease-2", 1)
        await asyncio.sleep(1.05)  # the node holding lease-1 never released it
        assert await storage.acquire("who", 1, "lease-3", 1)
    finally:
        await storage.aclose()


async def test_redis_stopped_mid_test_each_limit_follows_its_outage_policy(
    private_redis: RedisServer,
) -> None:
    config = RateLimitConfig(
        tiers={"anonymous": TierLimit(per_minute=1000, concurrent=100)},
        endpoints=(
            EndpointLimit("GET /hello", 1000, on_outage=Outage.OPEN),
            EndpointLimit("POST /api/auth/login", 1000, on_outage=Outage.CLOSED),
            EndpointLimit("POST /api/games/*/play", 2, on_outage=Outage.LOCAL),
        ),
    )
    limiter = node(private_redis.url, config)
    gate["slow"] = asyncio.Event()
    try:
        async with client(make_app(limiter)) as http:
            assert (await http.get("/hello")).status_code == 200
            assert (await http.post("/api/auth/login")).status_code == 200
            private_redis.stop()
            # Hits this node reserved while Redis was up are still its own to spend
            # (they are counted in the shared window already) until they lapse.
            await asyncio.sleep(RedisLimitStorage.HOLD_SECONDS + 0.05)

            assert (await http.get("/hello")).status_code == 200  # fail open
            closed = await http.post("/api/auth/login")  # fail closed
            assert closed.status_code == 503
            assert closed.json()["error"]["code"] == "unavailable"
            assert "retry-after" in closed.headers
            local = [(await http.post("/api/games/1/play")).status_code for _ in range(3)]
            assert local == [200, 200, 429]  # counted by this node alone
            storage = limiter.storage
            assert isinstance(storage, RedisLimitStorage)
            assert storage.guard.breaker is not None
            assert storage.guard.breaker.state is CircuitState.OPEN
            assert limiter.stats.outage[Outage.CLOSED] >= 1

            private_redis.start()
            await asyncio.sleep(0.35)  # the breaker's reset timeout
            assert (await http.post("/api/auth/login")).status_code == 200
            assert storage.guard.breaker.state is CircuitState.CLOSED
    finally:
        await limiter.storage.aclose()


@pytest.mark.parametrize("two_nodes", [(400, 10_000)], indirect=True, ids=["batched"])
async def test_hits_reserved_in_batches_never_let_two_nodes_past_the_limit(
    two_nodes: list[RateLimiter], redis_url: str, redis_namespace: str
) -> None:
    # 400 a minute: big enough that each node reserves many hits per round trip.
    async def one(i: int) -> bool:
        limiter = two_nodes[i % 2]
        decision = await limiter.check(ANONYMOUS, "GET", "/x", "10.3.3.3")
        if decision.lease is not None:
            await limiter.release(decision.lease)
        return decision.allowed

    results = await asyncio.gather(*(one(i) for i in range(1200)))
    allowed = sum(results)
    assert allowed <= 400
    # Unspent reservations are the only slack: at most a batch per node.
    assert allowed >= 400 - 2 * RedisLimitStorage.BATCH
    assert two_nodes[0].stats.allowed > 0
    assert two_nodes[1].stats.allowed > 0
    # What Redis counts (spent and reserved) is never more than the limit either.
    storage = two_nodes[0].storage
    assert isinstance(storage, RedisLimitStorage)
    windows = [key async for key in storage.client.scan_iter(f"{redis_namespace}:w:*")]
    assert windows
    for key in windows:
        assert await storage.client.zcard(key) <= 400
    # A refused caller is told so in its headers, from the reservation's own figures.
    refused = await two_nodes[1].check(ANONYMOUS, "GET", "/x", "10.3.3.3")
    assert not refused.allowed
    assert refused.limit == 400
    assert refused.remaining <= 2 * RedisLimitStorage.BATCH


@pytest.mark.parametrize("two_nodes", [(100_000, 3)], indirect=True, ids=["leases"])
async def test_leases_taken_together_in_one_call_still_cap_what_is_in_flight(
    two_nodes: list[RateLimiter],
) -> None:
    # Fifty requests at once on two nodes: their acquires share script calls, and
    # exactly three get a slot.
    decisions = await asyncio.gather(
        *(two_nodes[i % 2].check(ANONYMOUS, "GET", "/x", "10.4.4.4") for i in range(50))
    )
    held = [(i, d) for i, d in enumerate(decisions) if d.allowed]
    assert len(held) == 3
    assert all(d.reason == "concurrency" for d in decisions if not d.allowed)
    for i, decision in held:
        assert decision.lease is not None
        await two_nodes[i % 2].release(decision.lease)
    again = await asyncio.gather(
        *(two_nodes[i % 2].check(ANONYMOUS, "GET", "/x", "10.4.4.4") for i in range(3))
    )
    assert all(d.allowed for d in again)
