"""TenantScopedStore: every append and read carries the principal's tenant, on every backend."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from headwater.errors import Forbidden, InvalidInput, StreamNotFound
from headwater.eventstore import EventStore, NewEvent, Snapshot
from headwater.identity._principal import ANONYMOUS, Principal, Role
from headwater.tenancy._store import TenantScopedStore

pytestmark = pytest.mark.anyio


def member(tenant: str, *, acting: bool = False) -> Principal:
    role = Role.PLATFORM_ADMIN if acting else Role.STAFF
    return Principal(
        subject=f"acc-{tenant}",
        tenant_id=tenant,
        roles=frozenset({role}),
        credential="access_token",
        acting_as_admin=acting,
    )


@pytest.fixture
def a(store: EventStore) -> TenantScopedStore:
    return TenantScopedStore(store, member("A"))


@pytest.fixture
def b(store: EventStore) -> TenantScopedStore:
    return TenantScopedStore(store, member("B"))


async def test_appends_are_written_under_the_tenant_and_stamped(
    a: TenantScopedStore, store: EventStore
) -> None:
    await a.append("order-1", NewEvent("Placed", {"n": 1}, {"actor": "someone else"}))
    [event] = [e async for e in store.read_stream("order-1")]
    assert event.tenant_id == "A"
    assert event.metadata["actor"] == "acc-A"  # the principal wins over the handler
    assert event.metadata["tenant_id"] == "A"


async def test_a_platform_admin_acting_for_a_tenant_is_recorded(store: EventStore) -> None:
    acting = TenantScopedStore(store, member("A", acting=True))
    await acting.append("order-1", NewEvent("Placed", {}))
    [event] = [e async for e in store.read_stream("order-1")]
    assert event.metadata["acting_as_admin"] is True


async def test_another_tenants_stream_reads_as_missing(
    a: TenantScopedStore, b: TenantScopedStore
) -> None:
    result = await a.append("order-1", NewEvent("Placed", {"secret": "A"}))
    assert [e async for e in b.read_stream("order-1")] == []
    assert await b.stream_version("order-1") is None
    with pytest.raises(StreamNotFound):
        await b.require_stream("order-1")
    assert [e async for e in b.read_all()] == []
    [event] = [e async for e in a.read_stream("order-1")]
    assert await b.read_event(event.id) is None
    assert (await a.read_event(event.id)) == event
    assert result.version == 1


async def test_appending_to_another_tenants_stream_looks_like_not_found(
    a: TenantScopedStore, b: TenantScopedStore
) -> None:
    await a.append("order-1", NewEvent("Placed", {}))
    with pytest.raises(StreamNotFound):
        await b.append("order-1", NewEvent("Hijacked", {}))
    assert [e.type async for e in a.read_stream("order-1")] == ["Placed"]


async def test_naming_another_tenant_explicitly_is_refused(a: TenantScopedStore) -> None:
    with pytest.raises(Forbidden):
        await a.append("order-1", NewEvent("Placed", {}), tenant_id="B")
    with pytest.raises(Forbidden):
        [e async for e in a.read_all(tenant_id="B")]
    with pytest.raises(Forbidden):
        await a.stream_version("order-1", tenant_id="B")


async def test_naming_its_own_tenant_is_fine(a: TenantScopedStore) -> None:
    await a.append("order-1", NewEvent("Placed", {}), tenant_id="A")
    assert await a.stream_version("order-1", tenant_id="A") == 1


async def test_read_all_and_prefix_filters_keep_the_tenant(
    a: TenantScopedStore, b: TenantScopedStore
) -> None:
    await a.append("order-1", NewEvent("Placed", {}))
    await b.append("order-2", NewEvent("Placed", {}))
    assert [e.stream_id async for e in a.read_all(stream_prefix="order-")] == ["order-1"]
    assert [e.stream_id async for e in b.read_all(types=["Placed"])] == ["order-2"]


async def test_subscriptions_see_only_their_tenant(
    a: TenantScopedStore, b: TenantScopedStore
) -> None:
    seen: list[str] = []

    async def follow() -> None:
        async for event in b.subscribe():
            seen.append(event.stream_id)
            if event.stream_id == "b-2":
                return

    task = asyncio.create_task(follow())
    await a.append("a-1", NewEvent("X", {}))
    await b.append("b-2", NewEvent("X", {}))
    await asyncio.wait_for(task, 10)
    assert seen == ["b-2"]


async def test_snapshots_of_another_tenants_stream_are_invisible(
    a: TenantScopedStore, b: TenantScopedStore
) -> None:
    await a.append("order-1", NewEvent("Placed", {}))
    await a.save_snapshot(Snapshot("order-1", 1, {"state": "A"}))
    assert (await a.load_snapshot("order-1")) is not None
    assert await b.load_snapshot("order-1") is None
    with pytest.raises(StreamNotFound):
        await b.save_snapshot(Snapshot("order-1", 1, {"state": "B"}))


async def test_security_events_cannot_be_appended(a: TenantScopedStore) -> None:
    with pytest.raises(InvalidInput, match="reserved"):
        await a.append(
            "account-x", NewEvent("hw.account.registered", {"roles": ["platform_admin"]})
        )


async def test_raw_sql_is_refused_but_unscoped_is_explicit(
    a: TenantScopedStore, store: EventStore
) -> None:
    with pytest.raises(Forbidden):
        async with a.transaction():
            pass
    with pytest.raises(Forbidden):
        await a.get_checkpoint("x")
    with pytest.raises(InvalidInput):
        a.add_inline_handler(lambda events: [])
    assert a.unscoped is store


async def test_a_caller_without_tenant_gets_no_scoped_store(store: EventStore) -> None:
    with pytest.raises(Forbidden):
        TenantScopedStore(store, ANONYMOUS)


async def test_idempotent_retries_still_work(a: TenantScopedStore) -> None:
    event = NewEvent("Placed", {"n": 1}, id=uuid.uuid4())
    first = await a.append("order-1", event)
    again = await a.append("order-1", event)
    assert first == again


async def test_security_events_are_never_shown(a: TenantScopedStore, store: EventStore) -> None:
    # Written by the security layer under the tenant, as account events are.
    secret = NewEvent("hw.account.password_changed", {"password_hash": "$argon2id$..."})
    await store.append("account-1", secret, tenant_id="A")
    await a.append("order-1", NewEvent("Placed", {}))
    assert [e async for e in a.read_stream("account-1")] == []
    assert [e.type async for e in a.read_all()] == ["Placed"]
    assert [e.type async for e in a.read_all(limit=1)] == ["Placed"]  # limit counts shown ones
    assert await a.read_event(secret.id) is None

    async def first_seen() -> str:
        async for event in a.subscribe():
            return event.type
        raise AssertionError

    assert await asyncio.wait_for(first_seen(), 10) == "Placed"


async def test_limits_and_directions_still_work(a: TenantScopedStore) -> None:
    await a.append("order-1", [NewEvent("E", {"n": n}) for n in range(5)])
    assert [e.data["n"] async for e in a.read_stream("order-1", limit=2)] == [0, 1]
    backwards = a.read_stream("order-1", backwards=True, limit=2)
    assert [e.data["n"] async for e in backwards] == [4, 3]
    assert [e async for e in a.read_all(limit=0)] == []
    with pytest.raises(InvalidInput):
        [e async for e in a.read_all(limit=-1)]
