"""The bus's aggregate cache: a command on state this node saved reads nothing, and is still
never decided on stale state where the append would not notice (on every backend)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest

from headwater.domain import CommandBus, CommandContext, Repository
from headwater.domain._cache import AggregateCache
from headwater.errors import ConcurrencyError, TenantMismatch
from headwater.eventstore import EventStore, NewEvent, RecordedEvent
from tests.domain.model import (
    CheckIn,
    Guest,
    GuestCheckedIn,
    GuestId,
    RegisterUser,
    UpdateUser,
    User,
    UserId,
    make_bus,
)

pytestmark = pytest.mark.anyio


def _count_reads(store: EventStore, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The stream ids the store is asked to read from now on."""
    reads: list[str] = []
    read_stream = store.read_stream

    def counting(stream_id: str, **options: Any) -> AsyncIterator[RecordedEvent]:
        reads.append(stream_id)
        return read_stream(stream_id, **options)

    monkeypatch.setattr(store, "read_stream", counting)
    return reads


def _cache(bus: CommandBus) -> AggregateCache:
    assert bus.cache is not None
    return bus.cache


async def _check_in_elsewhere(store: EventStore, guest_id: GuestId, gate: str) -> None:
    """Another node's write: straight to the store, round this bus's cache."""
    await store.append(guest_id.stream_id, [NewEvent("test.GuestCheckedIn", {"gate": gate})])


# --- hits, and what makes the bus go back to the store ------------------------------------


async def test_a_command_on_an_aggregate_this_node_saved_reads_nothing(
    bus: CommandBus, store: EventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    user_id = UserId.new()
    await bus.send(RegisterUser(user_id=user_id, email="a@x.io", name="Ada"))
    reads = _count_reads(store, monkeypatch)

    result = await bus.send(UpdateUser(user_id=user_id, city="Paris"))

    assert reads == []
    assert _cache(bus).hits == 1
    assert result.version == 2
    loaded = await Repository(store).load(User, user_id)
    assert (loaded.city, loaded.version) == ("Paris", 2)


async def test_a_write_made_elsewhere_conflicts_and_the_retry_decides_on_the_stored_state(
    bus: CommandBus, store: EventStore
) -> None:
    guest_id = GuestId.new()
    await bus.send(CheckIn(guest_id=guest_id, gate="north"))
    await _check_in_elsewhere(store, guest_id, "east")  # the cached guest is now stale

    result = await bus.send(CheckIn(guest_id=guest_id, gate="south"))

    assert (result.value, result.version) == (3, 3)
    guest = await Repository(store).load(Guest, guest_id)
    assert guest.gates == ["north", "east", "south"]


async def test_after_a_conflict_the_cache_holds_the_stored_state_again(
    bus: CommandBus, store: EventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    guest_id = GuestId.new()
    await bus.send(CheckIn(guest_id=guest_id, gate="north"))
    await _check_in_elsewhere(store, guest_id, "east")
    await bus.send(CheckIn(guest_id=guest_id, gate="south"))  # conflicts, retries, caches v3
    reads = _count_reads(store, monkeypatch)

    result = await bus.send(CheckIn(guest_id=guest_id, gate="west"))

    assert reads == []
    assert (result.value, result.version) == (4, 4)


async def test_deciding_nothing_on_stale_state_is_decided_again_on_the_stored_state(
    bus: CommandBus, store: EventStore
) -> None:
    user_id = UserId.new()
    await bus.send(RegisterUser(user_id=user_id, email="a@x.io", name="Ada"))
    other_node = make_bus(Repository(store))
    await other_node.send(UpdateUser(user_id=user_id, name="Bea"))

    # This node's cached user is still called Ada: renaming to Ada would be a no-op there,
    # and a no-op is not checked by any append.
    result = await bus.send(UpdateUser(user_id=user_id, name="Ada"))

    assert result.version == 3
    assert (await Repository(store).load(User, user_id)).name == "Ada"


async def test_an_error_on_stale_state_is_decided_again_on_the_stored_state(
    repo: Repository, store: EventStore
) -> None:
    bus = make_bus(repo)

    def second_check_in_only(command: CheckIn, guest: Guest) -> int:
        if guest.check_ins < 2:
            raise ValueError("only after two check-ins")
        guest.record(GuestCheckedIn(gate=command.gate))
        return guest.check_ins

    bus.register(TwiceCheckedIn, Guest, second_check_in_only)
    guest_id = GuestId.new()
    await bus.send(CheckIn(guest_id=guest_id, gate="north"))
    await _check_in_elsewhere(store, guest_id, "east")

    result = await bus.send(TwiceCheckedIn(guest_id=guest_id, gate="south"))

    assert (result.value, result.version) == (3, 3)


class TwiceCheckedIn(CheckIn, name="test.TwiceCheckedIn"):
    pass


async def test_a_real_error_still_reaches_the_sender(bus: CommandBus, store: EventStore) -> None:
    user_id = UserId.new()
    await bus.send(RegisterUser(user_id=user_id, email="a@x.io", name="Ada"))
    with pytest.raises(ValueError, match="already registered"):
        await bus.send(RegisterUser(user_id=user_id, email="b@x.io", name="Bea"))
    events = [e async for e in store.read_stream(user_id.stream_id)]
    assert len(events) == 1


# --- what a command leaves in the cache ----------------------------------------------------


async def test_a_failed_command_leaves_nothing_of_its_decision_in_the_cache(
    repo: Repository, store: EventStore
) -> None:
    bus = make_bus(repo)

    def record_then_fail(command: CheckIn, guest: Guest) -> int:
        guest.record(GuestCheckedIn(gate=command.gate))
        raise RuntimeError("changed my mind")

    bus.register(Doomed, Guest, record_then_fail)
    guest_id = GuestId.new()
    await bus.send(CheckIn(guest_id=guest_id, gate="north"))

    with pytest.raises(RuntimeError):
        await bus.send(Doomed(guest_id=guest_id, gate="nowhere"))
    result = await bus.send(CheckIn(guest_id=guest_id, gate="south"))

    assert (result.value, result.version) == (2, 2)
    guest = await repo.load(Guest, guest_id)
    assert guest.gates == ["north", "south"]


class Doomed(CheckIn, name="test.Doomed"):
    pass


async def test_a_conflicting_command_leaves_nothing_of_its_decision_in_the_cache(
    repo: Repository, store: EventStore
) -> None:
    bus = make_bus(repo, max_attempts=1)
    guest_id = GuestId.new()
    await bus.send(CheckIn(guest_id=guest_id, gate="north"))
    await _check_in_elsewhere(store, guest_id, "east")

    with pytest.raises(ConcurrencyError):
        await bus.send(CheckIn(guest_id=guest_id, gate="south"))  # one attempt: gives up

    assert len(_cache(bus)) == 0
    result = await bus.send(CheckIn(guest_id=guest_id, gate="west"))
    assert (result.value, result.version) == (3, 3)


async def test_a_repeated_command_still_returns_its_first_result(bus: CommandBus) -> None:
    guest_id = GuestId.new()
    context = CommandContext()
    first = await bus.send(CheckIn(guest_id=guest_id, gate="north"), context)

    again = await bus.send(CheckIn(guest_id=guest_id, gate="north"), context)

    assert (again.value, again.version, again.replayed) == (first.value, 1, True)


# --- tenants --------------------------------------------------------------------------------


async def test_a_tenant_never_decides_on_another_tenants_cached_state(
    repo: Repository, store: EventStore
) -> None:
    bus = make_bus(repo)
    guest_id = GuestId.new()
    await bus.send(CheckIn(guest_id=guest_id, gate="north"), CommandContext(tenant_id="t1"))

    # Tenant t2 sees no such guest: deciding on t1's cached one would count its check-in
    # and append as if the stream were t2's.
    with pytest.raises(TenantMismatch):
        await bus.send(CheckIn(guest_id=guest_id, gate="south"), CommandContext(tenant_id="t2"))

    assert _cache(bus).take(Guest, guest_id.stream_id, "t2") is None
    cached = _cache(bus).take(Guest, guest_id.stream_id, "t1")
    assert cached is not None
    assert cached.gates == ["north"]


# --- the cache itself ---------------------------------------------------------------------


def _saved_guest(check_ins: int = 1, guest_id: GuestId | None = None) -> Guest:
    guest = Guest.blank(guest_id or GuestId.new())
    for n in range(check_ins):
        guest.record(GuestCheckedIn(gate=f"gate-{n}"))
    guest._mark_saved(guest.version)
    return guest


def test_an_entry_is_taken_out_so_two_commands_never_share_it() -> None:
    cache = AggregateCache()
    guest = _saved_guest()
    cache.put(guest, None)

    assert cache.take(Guest, guest.stream_id, None) is guest
    assert cache.take(Guest, guest.stream_id, None) is None
    assert (cache.hits, cache.misses) == (1, 1)


def test_entries_are_scoped_by_tenant_and_class() -> None:
    cache = AggregateCache()
    guest = _saved_guest()
    cache.put(guest, "t1")

    assert cache.take(Guest, guest.stream_id, "t2") is None
    assert cache.take(Guest, guest.stream_id, None) is None
    assert cache.take(User, guest.stream_id, "t1") is None
    assert cache.take(Guest, guest.stream_id, "t1") is guest


def test_the_cache_is_bounded_and_drops_the_least_recently_saved() -> None:
    cache = AggregateCache(max_size=2)
    first, second, third = (_saved_guest() for _ in range(3))
    cache.put(first, None)
    cache.put(second, None)
    cache.put(first, None)  # saved again: now the most recent
    cache.put(third, None)

    assert len(cache) == 2
    assert cache.take(Guest, second.stream_id, None) is None
    assert cache.take(Guest, first.stream_id, None) is first
    assert cache.take(Guest, third.stream_id, None) is third


def test_an_older_version_never_replaces_a_newer_one() -> None:
    cache = AggregateCache()
    newer = _saved_guest(3)
    older = _saved_guest(2, newer.id)
    cache.put(newer, None)
    cache.put(older, None)

    assert cache.take(Guest, newer.stream_id, None) is newer


def test_only_a_saved_aggregate_may_be_cached() -> None:
    guest = _saved_guest()
    guest.record(GuestCheckedIn(gate="pending"))
    with pytest.raises(ValueError, match="saved"):
        AggregateCache().put(guest, None)


@pytest.mark.parametrize("size", [0, -1, True, 1.5])
def test_a_cache_needs_a_positive_size(size: Any) -> None:
    with pytest.raises(ValueError, match="positive"):
        AggregateCache(size)


# --- when the bus keeps no cache ------------------------------------------------------------


class _PlainCipher:
    async def seal(
        self, events: Sequence[NewEvent], *, stream_id: str, tenant_id: str | None
    ) -> list[NewEvent]:
        return list(events)

    async def open(self, records: Sequence[RecordedEvent]) -> list[RecordedEvent]:
        return list(records)


async def test_with_personal_data_sealed_no_opened_state_is_kept(store: EventStore) -> None:
    bus = make_bus(Repository(store, cipher=_PlainCipher()))
    assert bus.cache is None
    guest_id = GuestId.new()
    await bus.send(CheckIn(guest_id=guest_id, gate="north"))
    assert (await bus.send(CheckIn(guest_id=guest_id, gate="south"))).value == 2


async def test_cache_size_zero_turns_the_cache_off(
    repo: Repository, store: EventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    bus = make_bus(repo, cache_size=0)
    assert bus.cache is None
    guest_id = GuestId.new()
    await bus.send(CheckIn(guest_id=guest_id, gate="north"))
    reads = _count_reads(store, monkeypatch)
    await bus.send(CheckIn(guest_id=guest_id, gate="south"))
    assert reads == [guest_id.stream_id]
