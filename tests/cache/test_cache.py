"""The cache with L1 only (the embedded default): hits, single-flight, XFetch, tags, tenants."""

from __future__ import annotations

import asyncio

import pytest

from headwater.cache import (
    COMPUTED,
    FREQUENT,
    POLICIES,
    REALTIME,
    SHARED,
    STATIC,
    Cache,
    CachePolicy,
    MsgpackSerializer,
    cached,
    read_model_tag,
)
from headwater.identity._context import acting_as
from headwater.identity._principal import Principal, Role

pytestmark = pytest.mark.anyio


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def tenant_user(tenant: str) -> Principal:
    return Principal(
        subject=f"user-{tenant}",
        tenant_id=tenant,
        roles=frozenset({Role.USER}),
        credential="session",
    )


def test_seed_policies_have_the_seed_ttls() -> None:
    assert (STATIC.ttl, FREQUENT.ttl, REALTIME.ttl, COMPUTED.ttl) == (3600, 300, 30, 600)
    assert set(POLICIES) == {"static", "frequent", "realtime", "computed"}


async def test_a_second_read_is_a_hit_until_the_ttl_passes() -> None:
    clock = Clock()
    cache = Cache(clock=clock)
    calls = 0

    async def compute() -> dict[str, int]:
        nonlocal calls
        calls += 1
        return {"n": calls}

    policy = CachePolicy("t", ttl=10, beta=0)
    assert await cache.get_or_compute("k", compute, policy=policy) == {"n": 1}
    assert await cache.get_or_compute("k", compute, policy=policy) == {"n": 1}
    clock.now += 10
    assert await cache.get_or_compute("k", compute, policy=policy) == {"n": 2}
    assert cache.stats.snapshot()["l1_hits"] == 1
    assert cache.stats.misses == 2


async def test_concurrent_misses_compute_once() -> None:
    cache = Cache()
    calls = 0
    release = asyncio.Event()

    async def compute() -> int:
        nonlocal calls
        calls += 1
        await release.wait()
        return 42

    readers = [asyncio.create_task(cache.get_or_compute("k", compute)) for _ in range(200)]
    await asyncio.sleep(0.01)
    release.set()
    assert await asyncio.gather(*readers) == [42] * 200
    assert calls == 1
    assert cache.stats.coalesced == 199


async def test_a_cancelled_reader_does_not_cancel_the_others() -> None:
    cache = Cache()
    release = asyncio.Event()

    async def compute() -> str:
        await release.wait()
        return "v"

    first = asyncio.create_task(cache.get_or_compute("k", compute))
    second = asyncio.create_task(cache.get_or_compute("k", compute))
    await asyncio.sleep(0.01)
    first.cancel()
    release.set()
    assert await second == "v"


async def test_xfetch_refreshes_in_the_background_and_serves_the_cached_value() -> None:
    clock = Clock()
    cache = Cache(clock=clock)
    version = 0
    release = asyncio.Event()

    async def compute() -> int:
        nonlocal version
        version += 1
        if version > 1:
            await release.wait()
        return version

    # beta so large that every hit draws an early refresh: the point is that only
    # one runs at a time, and nobody waits for it.
    policy = CachePolicy("hot", ttl=60, beta=1e9)
    assert await cache.get_or_compute("k", compute, policy=policy) == 1
    served = [await cache.get_or_compute("k", compute, policy=policy) for _ in range(50)]
    assert served == [1] * 50
    await asyncio.sleep(0.01)
    assert version == 2  # one refresh, in flight
    release.set()
    await asyncio.sleep(0.01)
    assert await cache.get_or_compute("k", compute, policy=policy) == 2
    assert cache.stats.refreshes == 1


async def test_tag_invalidation_drops_entries_built_from_that_read_model() -> None:
    cache = Cache()
    rows = {"guests": 1, "tables": 1}

    async def count(table: str) -> int:
        return rows[table]

    tags = {t: [read_model_tag(t)] for t in rows}
    for table in rows:
        await cache.get_or_compute(table, lambda t=table: count(t), tags=tags[table])
    rows["guests"] = rows["tables"] = 2
    await cache.read_model_changed("guests")
    assert await cache.get_or_compute("guests", lambda: count("guests"), tags=tags["guests"]) == 2
    assert await cache.get_or_compute("tables", lambda: count("tables"), tags=tags["tables"]) == 1


async def test_an_invalidation_during_a_computation_is_not_lost() -> None:
    cache = Cache()
    started, release = asyncio.Event(), asyncio.Event()
    data = {"v": "old"}

    async def compute() -> str:
        value = data["v"]  # read the read model...
        started.set()
        await release.wait()  # ...while a commit lands and invalidates
        return value

    reader = asyncio.create_task(cache.get_or_compute("k", compute, tags=["t"]))
    await started.wait()
    data["v"] = "new"
    await cache.invalidate_tags("t")
    release.set()
    assert await reader == "old"
    assert await cache.get_or_compute("k", compute, tags=["t"]) == "new"


async def test_keys_are_scoped_by_the_callers_tenant() -> None:
    cache = Cache()

    async def compute_for(tenant: str) -> str:
        return f"secret of {tenant}"

    with acting_as(tenant_user("a")):
        assert await cache.get_or_compute("k", lambda: compute_for("a")) == "secret of a"
    with acting_as(tenant_user("b")):
        assert await cache.get_or_compute("k", lambda: compute_for("b")) == "secret of b"
        assert await cache.get_or_compute("cfg", lambda: compute_for("x"), tenant=SHARED) == (
            "secret of x"
        )
    with acting_as(tenant_user("a")):
        assert await cache.get_or_compute("cfg", lambda: compute_for("y"), tenant=SHARED) == (
            "secret of x"
        )


async def test_a_failed_recomputation_serves_the_stale_value_within_its_window() -> None:
    clock = Clock()
    cache = Cache(clock=clock)
    policy = CachePolicy("p", ttl=10, beta=0, stale_if_error=5)
    fail = False

    async def compute() -> str:
        if fail:
            raise ConnectionError("read model down")
        return "v"

    assert await cache.get_or_compute("k", compute, policy=policy) == "v"
    fail = True
    clock.now += 12
    assert await cache.get_or_compute("k", compute, policy=policy) == "v"
    assert cache.stats.stale == 1
    clock.now += 4
    with pytest.raises(ConnectionError):
        await cache.get_or_compute("k", compute, policy=policy)


async def test_cached_decorator_keys_by_arguments() -> None:
    cache = Cache()
    calls: list[str] = []

    @cached(cache, policy=REALTIME, key="board:{game_id}", tags=lambda game_id: [f"g:{game_id}"])
    async def leaderboard(game_id: str, limit: int = 10) -> list[str]:
        calls.append(game_id)
        return [game_id] * limit

    @cached(lambda: cache)
    async def plain(a: int, b: str = "x") -> str:
        calls.append(f"plain{a}")
        return f"{a}{b}"

    assert await leaderboard("g1", limit=2) == ["g1", "g1"]
    assert await leaderboard("g1") == ["g1", "g1"]
    await cache.invalidate_tags("g:g1")
    await leaderboard("g1")
    assert await plain(1) == await plain(1) == "1x"
    assert await plain(2) == "2x"
    assert calls == ["g1", "g1", "plain1", "plain2"]


def test_msgpack_round_trips_plain_data_and_refuses_objects() -> None:
    serializer = MsgpackSerializer()
    value = {"a": [1, 2.5, "x", None, True], "b": {"c": b"raw"}}
    assert serializer.loads(serializer.dumps(value)) == value
    with pytest.raises(TypeError):
        serializer.dumps(object())
