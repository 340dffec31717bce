"""The PostgreSQL store through a faulty link: every call bounded, nothing leaked.

Each store here talks to PostgreSQL through a :class:`FaultProxy` on this test's
loop, with short deadlines so each scenario takes seconds.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import psycopg
import pytest

from headwater.errors import StoreUnavailable
from headwater.eventstore import NewEvent, PostgresTimeouts, RecordedEvent
from headwater.eventstore._postgres import PostgresEventStore
from headwater.testing._fault_proxy import FaultProxy, Link

pytestmark = [pytest.mark.anyio, pytest.mark.postgres]

TIMEOUTS = PostgresTimeouts(
    connect=1.0, pool=1.0, query=1.0, append=1.0, listen_heartbeat=1.0, close=2.0
)
POOL_SIZE = 4


def through(proxy: FaultProxy, postgres_url: str) -> tuple[str, str]:
    """(conninfo through the proxy, schema) for the ``postgres_url`` fixture's schema."""
    base, _, query = postgres_url.partition("?schema=")
    return base.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}"), query


@pytest.fixture
async def proxy() -> AsyncIterator[FaultProxy]:
    found = FaultProxy("127.0.0.1", 5432)
    await found.start()
    yield found
    await found.stop()


@asynccontextmanager
async def store_through(
    proxy: FaultProxy, postgres_url: str, *, migrate: bool = False
) -> AsyncIterator[PostgresEventStore]:
    conninfo, schema = through(proxy, postgres_url)
    store = await PostgresEventStore.open(
        conninfo, schema=schema, migrate=migrate, pool_size=POOL_SIZE, timeouts=TIMEOUTS
    )
    try:
        yield store
    finally:
        await store.close()


@pytest.fixture
async def direct(postgres_url: str) -> AsyncIterator[PostgresEventStore]:
    """The same store over a clean link: "another node"."""
    base, _, schema = postgres_url.partition("?schema=")
    store = await PostgresEventStore.open(base, schema=schema, migrate=True)
    yield store
    await store.close()


async def elapsed(call: Awaitable[Any]) -> tuple[float, BaseException | None]:
    started = time.monotonic()
    try:
        await call
    except Exception as exc:
        return time.monotonic() - started, exc
    return time.monotonic() - started, None


async def recovers(check: Callable[[], Awaitable[Any]], within: float) -> float:
    """Seconds until ``check`` first succeeds; fails the test after ``within``."""
    started = time.monotonic()
    while True:
        try:
            await check()
            return time.monotonic() - started
        except StoreUnavailable:
            if time.monotonic() - started > within:
                raise
            await asyncio.sleep(0.05)


def event() -> NewEvent:
    return NewEvent(type="Tested", data={"n": uuid.uuid4().hex})


#: The most any one call may take: its deadline, twice the cancel grace, and slack
#: for a busy shared machine. A property of the configuration, not of speed.
BOUND = TIMEOUTS.query + 1.5


async def test_reads_on_a_black_holed_link_fail_within_the_deadline_and_recover_after_heal(
    proxy: FaultProxy, postgres_url: str, direct: PostgresEventStore
) -> None:
    async with store_through(proxy, postgres_url) as store:
        await store.append("s-1", event())
        # Every pooled connection busy at the moment of the cut.
        proxy.black_hole()
        results = await asyncio.gather(
            *(elapsed(store.read_stream("s-1").__anext__()) for _ in range(POOL_SIZE * 2))
        )
        for seconds, error in results:
            assert isinstance(error, StoreUnavailable)
            assert seconds < BOUND
        seconds, error = await elapsed(store.head_position())
        assert isinstance(error, StoreUnavailable)
        assert seconds < BOUND
        proxy.heal()
        await recovers(store.head_position, within=5)
        # Nothing leaked: the whole pool can be busy at once again.
        await asyncio.gather(*(store.stream_version("s-1") for _ in range(POOL_SIZE * 3)))
        stats = store.link_stats()
        assert stats["pool_size"] <= POOL_SIZE
        assert stats["connections_discarded"] >= 1


async def test_a_transaction_on_a_link_that_drops_replies_fails_within_its_deadline(
    proxy: FaultProxy, postgres_url: str, direct: PostgresEventStore
) -> None:
    async with store_through(proxy, postgres_url) as store:

        async def checkpoint() -> None:
            async with store.transaction() as tx:
                await tx.set_checkpoint("links", 1)

        await checkpoint()
        proxy.drop("downstream")
        seconds, error = await elapsed(checkpoint())
        assert isinstance(error, StoreUnavailable)
        assert seconds < BOUND
        proxy.heal()
        await recovers(checkpoint, within=5)
        assert await direct.get_checkpoint("links") == 1


async def test_appends_on_a_black_holed_link_fail_in_bounded_time_and_work_after_heal(
    proxy: FaultProxy, postgres_url: str, direct: PostgresEventStore
) -> None:
    async with store_through(proxy, postgres_url) as store:
        await store.append("s-2", event())
        proxy.black_hole()
        seconds, error = await elapsed(store.append("s-2", event()))
        assert isinstance(error, StoreUnavailable)
        # The writer's own deadline, or the store's patience with it, whichever first.
        assert seconds < TIMEOUTS.append + TIMEOUTS.connect + 2.5
        with pytest.raises(StoreUnavailable):
            await store.check_writable()
        proxy.heal()

        async def append() -> None:
            await store.append("s-3", event())

        await recovers(append, within=8)
        await store.check_writable()


async def test_readiness_fails_while_the_link_is_cut_and_passes_again_after_heal(
    proxy: FaultProxy, postgres_url: str, direct: PostgresEventStore
) -> None:
    async with store_through(proxy, postgres_url) as store:
        await store.check_writable()
        proxy.drop("downstream")
        seconds, error = await elapsed(store.check_writable())
        assert isinstance(error, StoreUnavailable)
        assert seconds < BOUND
        proxy.heal()
        await recovers(store.check_writable, within=5)


async def test_a_down_database_fails_calls_within_the_pool_wait_not_the_query_deadline(
    proxy: FaultProxy, postgres_url: str, direct: PostgresEventStore
) -> None:
    async with store_through(proxy, postgres_url) as store:
        proxy.refuse()
        for _ in range(3):
            seconds, error = await elapsed(store.head_position())
            assert isinstance(error, StoreUnavailable)
            assert seconds < TIMEOUTS.pool + 1.0
        proxy.heal()
        await recovers(store.head_position, within=5)


async def test_close_finishes_within_its_timeout_on_a_dead_link(
    proxy: FaultProxy, postgres_url: str, direct: PostgresEventStore
) -> None:
    conninfo, schema = through(proxy, postgres_url)
    store = await PostgresEventStore.open(conninfo, schema=schema, timeouts=TIMEOUTS)
    await store.append("s-4", event())
    subscription = store.subscribe()
    await subscription.__anext__()  # the LISTEN connection is up
    proxy.black_hole()
    pending = asyncio.ensure_future(store.append("s-4", event()))
    await asyncio.sleep(0.1)  # the append is with the writer, on the dead link
    seconds, error = await elapsed(store.close())
    assert error is None
    assert seconds < TIMEOUTS.close + 2.0
    with pytest.raises(StoreUnavailable):
        await pending
    await subscription.aclose()


async def listen_link(proxy: FaultProxy, postgres_url: str) -> Link:
    """The proxy link of the store's LISTEN connection, as PostgreSQL names it."""
    base, _, _ = postgres_url.partition("?schema=")
    ports = {link.upstream_port: link for link in proxy.links}
    async with await psycopg.AsyncConnection.connect(base, autocommit=True) as conn:
        cursor = await conn.execute(
            "SELECT client_port FROM pg_stat_activity WHERE application_name = 'headwater-listen'"
        )
        found = [ports[row[0]] for row in await cursor.fetchall() if row[0] in ports]
    assert len(found) == 1, found
    return found[0]


async def wake_up_seconds(
    store: PostgresEventStore, other: PostgresEventStore, live: AsyncIterator[RecordedEvent]
) -> float:
    """Append through ``other``; seconds until ``store``'s subscription yields it."""
    started = time.monotonic()
    result = await other.append(f"w-{uuid.uuid4().hex[:8]}", event())
    while True:
        seen = await asyncio.wait_for(live.__anext__(), 15)
        if seen.position == result.positions[-1]:
            return time.monotonic() - started


async def test_a_silenced_listen_connection_is_replaced_and_wake_ups_are_fast_again(
    proxy: FaultProxy, postgres_url: str, direct: PostgresEventStore
) -> None:
    async with store_through(proxy, postgres_url) as store:
        # No safety-net poll in this test: only a working LISTEN delivers in time.
        store.fallback_poll_seconds = 60.0
        live = store.subscribe(after=await direct.head_position())
        before = [await wake_up_seconds(store, direct, live) for _ in range(3)]
        silenced = await listen_link(proxy, postgres_url)
        silenced.black_hole()
        cut = time.monotonic()
        reconnects = store.link_stats()["listen_reconnects"]
        while store.link_stats()["listen_reconnects"] == reconnects:
            assert time.monotonic() - cut < 10, "the silent LISTEN connection was not replaced"
            await asyncio.sleep(0.05)
        replaced_after = time.monotonic() - cut
        after = [await wake_up_seconds(store, direct, live) for _ in range(3)]
        await live.aclose()
    print(f"LISTEN replaced after {replaced_after:.2f}s; wake-ups before {before}, after {after}")
    assert replaced_after < 10
    # Milliseconds, not the 60 s poll: anything under a second is a LISTEN wake-up.
    assert max(after) < 1.0
