"""The command bus: routing, metadata, idempotent command ids, retries (on every backend)."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from typing import assert_type

import pytest

from headwater.domain import (
    Command,
    CommandBus,
    CommandContext,
    CommandIdReused,
    CommandNotRegistered,
    CommandResult,
    Repository,
)
from headwater.errors import ConcurrencyError
from headwater.eventstore import EventStore, NewEvent, RecordedEvent, create_event_store
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


async def _events(store: EventStore, stream_id: str) -> list[RecordedEvent]:
    return [event async for event in store.read_stream(stream_id)]


async def test_every_event_carries_correlation_causation_actor_and_tenant(
    bus: CommandBus, store: EventStore
) -> None:
    user_id = UserId.new()
    first = CommandContext(
        actor="alice", tenant_id="t1", correlation_id="req-42", metadata={"ip": "10.0.0.1"}
    )
    second = CommandContext(actor="bob", tenant_id="t1")

    result = await bus.send(RegisterUser(user_id=user_id, email="a@x.io", name="Ada"), first)
    await bus.send(UpdateUser(user_id=user_id, name="Ada L.", city="Paris"), second)

    assert result.value == user_id
    registered, updated = await _events(store, user_id.stream_id)
    assert registered.metadata["correlation_id"] == "req-42"
    assert registered.metadata["causation_id"] == str(first.command_id)
    assert registered.metadata["command_type"] == "test.RegisterUser"
    assert registered.metadata["actor"] == "alice"
    assert registered.metadata["ip"] == "10.0.0.1"
    # Without a correlation id of its own, a command starts a new conversation.
    assert updated.metadata["correlation_id"] == str(second.command_id)
    assert updated.metadata["actor"] == "bob"
    assert {registered.tenant_id, updated.tenant_id} == {"t1"}


async def test_a_repeated_command_id_returns_the_first_result_and_appends_nothing(
    bus: CommandBus, store: EventStore
) -> None:
    guest_id = GuestId.new()
    context = CommandContext(actor="scanner-1")
    first = await bus.send(CheckIn(guest_id=guest_id, gate="north"), context)
    await bus.send(CheckIn(guest_id=guest_id, gate="south"))
    head = await store.head_position()

    again = await bus.send(CheckIn(guest_id=guest_id, gate="north"), context)

    assert again.replayed
    assert not first.replayed
    assert (again.value, again.version, again.event_ids) == (1, 1, first.event_ids)
    assert await store.head_position() == head


async def test_concurrent_runs_of_one_command_id_write_it_once(
    bus: CommandBus, store: EventStore
) -> None:
    guest_id = GuestId.new()
    context = CommandContext()

    results = await asyncio.gather(
        *(bus.send(CheckIn(guest_id=guest_id, gate="north"), context) for _ in range(8))
    )

    assert {(r.value, r.version, r.event_ids) for r in results} == {(1, 1, results[0].event_ids)}
    assert len(await _events(store, guest_id.stream_id)) == 1


async def test_an_idempotency_key_from_a_client_maps_to_one_command_id(bus: CommandBus) -> None:
    guest_id = GuestId.new()
    key = f"scan-{uuid.uuid4()}"
    first = await bus.send(CheckIn(guest_id=guest_id, gate="a"), CommandContext.from_key(key))
    again = await bus.send(CheckIn(guest_id=guest_id, gate="a"), CommandContext.from_key(key))
    assert again.replayed
    assert again.command_id == first.command_id


async def test_a_command_that_decides_nothing_is_idempotent_too(
    bus: CommandBus, repo: Repository
) -> None:
    user_id = UserId.new()
    await bus.send(RegisterUser(user_id=user_id, email="a@x.io", name="Ada"))
    context = CommandContext()
    noop = await bus.send(UpdateUser(user_id=user_id, name="Ada"), context)
    await bus.send(UpdateUser(user_id=user_id, name="Grace"))

    # Decided again now, this would rename her back; a repeat must not decide again.
    again = await bus.send(UpdateUser(user_id=user_id, name="Ada"), context)

    assert noop.event_ids == ()
    assert noop.version == 1
    assert again.replayed
    assert again.version == 1
    user = await repo.load(User, user_id)
    assert (user.name, user.version) == ("Grace", 2)


async def test_a_repeat_that_would_now_fail_returns_the_first_result(
    bus: CommandBus, store: EventStore
) -> None:
    user_id = UserId.new()
    context = CommandContext()
    command = RegisterUser(user_id=user_id, email="a@x.io", name="Ada")
    first = await bus.send(command, context)

    again = await bus.send(command, context)  # decided again, it would be "already registered"

    assert again.replayed
    assert again.value == first.value == user_id
    assert len(await _events(store, user_id.stream_id)) == 1


class Ask(Command[int], name="test.Ask"):
    guest_id: GuestId


async def test_a_repeat_of_a_command_that_decided_nothing_returns_its_first_answer(
    bus: CommandBus, store: EventStore
) -> None:
    answers = itertools.count(42)  # an answer that is not a function of the state
    bus.register(Ask, Guest, lambda command, guest: next(answers))
    guest_id = GuestId.new()
    context = CommandContext()
    first = await bus.send(Ask(guest_id=guest_id), context)
    head = await store.head_position()

    again = await bus.send(Ask(guest_id=guest_id), context)

    assert (first.value, first.replayed) == (42, False)
    assert (again.value, again.replayed) == (42, True)
    assert await store.head_position() == head


async def test_two_nodes_running_one_command_at_once_write_it_once(
    store_url: str, backend: str
) -> None:
    if backend == "sqlite-memory":
        pytest.skip("an in-memory database cannot be shared by two stores")
    stores = [await create_event_store(store_url, migrate=True) for _ in range(2)]
    try:
        buses = [make_bus(Repository(s)) for s in stores]
        guest_id = GuestId.new()
        context = CommandContext()
        results = await asyncio.gather(
            *(bus.send(CheckIn(guest_id=guest_id, gate="north"), context) for bus in buses * 4)
        )
        assert {(r.value, r.version) for r in results} == {(1, 1)}
        assert len(await _events(stores[0], guest_id.stream_id)) == 1
    finally:
        for opened in stores:
            await opened.close()


async def test_a_command_id_reused_for_another_command_is_refused(bus: CommandBus) -> None:
    guest_id = GuestId.new()
    context = CommandContext()
    await bus.send(CheckIn(guest_id=guest_id, gate="north"), context)
    with pytest.raises(CommandIdReused):
        await bus.send(CheckIn(guest_id=guest_id, gate="south"), context)


async def test_one_command_id_in_two_tenants_is_two_commands(bus: CommandBus) -> None:
    command_id = uuid.uuid4()
    results = [
        await bus.send(
            CheckIn(guest_id=GuestId.new(), gate="north"),
            CommandContext(command_id=command_id, tenant_id=tenant),
        )
        for tenant in ("t1", "t2")
    ]
    assert [r.replayed for r in results] == [False, False]
    assert set(results[0].event_ids).isdisjoint(results[1].event_ids)


class Slow(Command[int], name="test.Slow"):
    guest_id: GuestId
    gate: str


async def test_concurrent_commands_that_commute_both_succeed_by_retrying(
    repo: Repository,
) -> None:
    bus = make_bus(repo)
    calls = 0
    both_decided = asyncio.Event()

    async def slow_check_in(command: Slow, guest: Guest) -> int:
        nonlocal calls
        calls += 1
        if calls == 2:
            both_decided.set()
        # Each first attempt waits until both have read version 0: one must then conflict.
        await asyncio.wait_for(both_decided.wait(), 5)
        guest.record(GuestCheckedIn(gate=command.gate))
        return guest.check_ins

    bus.register(Slow, Guest, slow_check_in)
    guest_id = GuestId.new()

    results = await asyncio.gather(
        bus.send(Slow(guest_id=guest_id, gate="north")),
        bus.send(Slow(guest_id=guest_id, gate="south")),
    )

    assert sorted(r.value for r in results) == [1, 2]
    assert calls == 3  # the loser decided once more, on fresh state
    guest = await repo.load(Guest, guest_id)
    assert sorted(guest.gates) == ["north", "south"]


async def test_retries_on_conflict_are_bounded(repo: Repository, store: EventStore) -> None:
    bus = make_bus(repo, max_attempts=3, backoff_seconds=0)
    calls = 0

    async def always_overtaken(command: Slow, guest: Guest) -> int:
        nonlocal calls
        calls += 1
        # Another writer gets in between every load and save.
        await store.append(
            command.guest_id.stream_id, [NewEvent("test.GuestCheckedIn", {"gate": "x"})]
        )
        guest.record(GuestCheckedIn(gate=command.gate))
        return guest.check_ins

    bus.register(Slow, Guest, always_overtaken)
    with pytest.raises(ConcurrencyError):
        await bus.send(Slow(guest_id=GuestId.new(), gate="north"))
    assert calls == 3


async def test_a_command_without_a_handler_is_refused(bus: CommandBus) -> None:
    with pytest.raises(CommandNotRegistered):
        await bus.send(Slow(guest_id=GuestId.new(), gate="north"))


async def test_a_failing_handler_writes_nothing(bus: CommandBus, store: EventStore) -> None:
    user_id = UserId.new()
    await bus.send(RegisterUser(user_id=user_id, email="a@x.io", name="Ada"))
    with pytest.raises(ValueError, match="already registered"):
        await bus.send(RegisterUser(user_id=user_id, email="b@x.io", name="Bea"))
    assert len(await _events(store, user_id.stream_id)) == 1


class TwoUsers(Command[None], name="test.TwoUsers"):
    first: UserId
    second: UserId


async def test_a_handler_finds_its_aggregate_by_the_commands_id_field(repo: Repository) -> None:
    bus = make_bus(repo)
    with pytest.raises(TypeError, match="exactly one UserId"):
        bus.register(TwoUsers, User, lambda command, user: None)
    bus.register(TwoUsers, User, lambda command, user: None, id_field="second")
    with pytest.raises(ValueError, match="already has a handler"):
        bus.register(TwoUsers, User, lambda command, user: None, id_field="first")
    assert bus.command_type("test.TwoUsers") is TwoUsers
    with pytest.raises(CommandNotRegistered):
        bus.command_type("test.Nope")


async def test_a_result_is_typed_by_its_command(bus: CommandBus) -> None:
    user_id = UserId.new()
    registered = await bus.send(RegisterUser(user_id=user_id, email="a@x.io", name="Ada"))
    checked_in = await bus.send(CheckIn(guest_id=GuestId.new(), gate="north"))
    # Checked by mypy as well as at run time.
    assert_type(registered, CommandResult[UserId])
    assert_type(checked_in.value, int)
    assert isinstance(registered.value, UserId)


async def test_the_result_names_the_appended_event_types_and_a_replay_names_none(
    bus: CommandBus, store: EventStore
) -> None:
    user_id = UserId.new()
    context = CommandContext(actor="alice", tenant_id="t1")
    result = await bus.send(RegisterUser(user_id=user_id, email="a@x.io", name="Ada"), context)
    updated = await bus.send(
        UpdateUser(user_id=user_id, name="Ada L.", city="Paris"), CommandContext(tenant_id="t1")
    )

    recorded = await _events(store, user_id.stream_id)
    # What follows a command (cache invalidation) learns its events without a read back.
    assert result.event_types + updated.event_types == tuple(e.type for e in recorded)
    assert [len(result.event_types)] == [len(result.event_ids)]
    again = await bus.send(RegisterUser(user_id=user_id, email="a@x.io", name="Ada"), context)
    assert again.replayed
    assert again.event_types == ()
