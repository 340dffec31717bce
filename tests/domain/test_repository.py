"""The repository: snapshots plus newer events, saving with the expected version, time travel."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from headwater.domain import AggregateVersionNotFound, Repository
from headwater.errors import ConcurrencyError, InvalidInput, StreamNotFound
from headwater.eventstore import EventStore, Snapshot
from tests.domain.model import FormId, Guest, GuestCheckedIn, GuestId, User, UserId

pytestmark = pytest.mark.anyio


async def _guest_with_check_ins(repo: Repository, gates: list[str], per_save: int = 1) -> GuestId:
    guest = Guest.blank(GuestId.new())
    for start in range(0, len(gates), per_save):
        for gate in gates[start : start + per_save]:
            guest.record(GuestCheckedIn(gate=gate))
        await repo.save(guest)
    return guest.id


async def test_a_saved_aggregate_loads_back_equal(repo: Repository) -> None:
    user = User.blank(UserId.new())
    user.register("a@x.io", "Ada")
    user.update(city="Paris")
    await repo.save(user)

    loaded = await repo.load(User, user.id)

    assert loaded == user
    assert (loaded.version, loaded.stored_version, loaded.pending_events) == (2, 2, ())


async def test_an_aggregate_without_events_loads_blank(repo: Repository) -> None:
    user = await repo.load(User, UserId.new())
    assert not user.exists
    assert user.version == 0
    with pytest.raises(StreamNotFound):
        await repo.require(User, user.id)


async def test_snapshot_plus_newer_events_gives_the_state_of_a_full_replay(
    repo: Repository, store: EventStore
) -> None:
    gates = [f"gate-{i}" for i in range(11)]
    guest_id = await _guest_with_check_ins(repo, gates, per_save=3)

    snapshot = await store.load_snapshot(guest_id.stream_id)
    from_snapshot = await repo.load(Guest, guest_id)
    replayed = await Repository(store, snapshots=False).load(Guest, guest_id)

    assert snapshot is not None
    assert snapshot.version == 11
    assert from_snapshot == replayed
    assert replayed.gates == gates
    assert replayed.version == 11
    # And between snapshots, at every version:
    for version in range(12):
        past = await repo.load(Guest, guest_id, version=version)
        assert past.gates == gates[:version]
        assert past.version == version


async def test_snapshots_follow_the_every_n_events_policy(
    repo: Repository, store: EventStore
) -> None:
    guest_id = await _guest_with_check_ins(repo, ["a", "b", "c", "d", "e"])
    versions = []
    for version in range(1, 6):
        snapshot = await store.load_snapshot(guest_id.stream_id, at_or_below=version)
        versions.append(None if snapshot is None else snapshot.version)
    assert versions == [None, 2, 2, 4, 4]  # Guest: snapshot_every=2


async def test_a_snapshot_of_another_schema_is_ignored_and_events_replayed(
    repo: Repository, store: EventStore
) -> None:
    guest_id = await _guest_with_check_ins(repo, ["a", "b", "c"])
    bogus = {"tenant_id": None, "state": {"id": guest_id.value, "check_ins": 99, "gates": []}}
    await store.save_snapshot(Snapshot(guest_id.stream_id, 3, bogus, "test.Guest/0/old"))

    guest = await repo.load(Guest, guest_id)

    assert (guest.check_ins, guest.gates) == (3, ["a", "b", "c"])


async def test_a_snapshot_never_shows_one_tenant_another_tenants_state(
    repo: Repository, store: EventStore
) -> None:
    guest = Guest.blank(GuestId.new())
    for gate in "abcd":
        guest.record(GuestCheckedIn(gate=gate))
    await repo.save(guest, tenant_id="t1")
    assert await store.load_snapshot(guest.id.stream_id) is not None

    assert (await repo.load(Guest, guest.id, tenant_id="t1")).check_ins == 4
    assert not (await repo.load(Guest, guest.id, tenant_id="t2")).exists


async def test_saving_over_a_newer_version_raises_conflict_and_writes_nothing(
    repo: Repository,
) -> None:
    guest_id = await _guest_with_check_ins(repo, ["a"])
    mine = await repo.load(Guest, guest_id)
    theirs = await repo.load(Guest, guest_id)
    theirs.record(GuestCheckedIn(gate="theirs"))
    await repo.save(theirs)

    mine.record(GuestCheckedIn(gate="mine"))
    with pytest.raises(ConcurrencyError):
        await repo.save(mine)

    assert (await repo.load(Guest, guest_id)).gates == ["a", "theirs"]


async def test_time_travel_by_version(repo: Repository) -> None:
    user = User.blank(UserId.new())
    user.register("a@x.io", "Ada")
    await repo.save(user)
    for city in ("Paris", "Lyon", "Nice"):
        user.update(city=city)
        await repo.save(user)

    cities = [(await repo.load(User, user.id, version=v)).city for v in range(5)]

    assert cities == ["", "", "Paris", "Lyon", "Nice"]
    with pytest.raises(AggregateVersionNotFound) as excinfo:
        await repo.load(User, user.id, version=5)
    assert excinfo.value.head == 4


async def test_time_travel_by_timestamp_uses_the_events_recorded_at(
    repo: Repository, store: EventStore
) -> None:
    user = User.blank(UserId.new())
    user.register("a@x.io", "Ada")
    await repo.save(user)
    moments = []
    for city in ("Paris", "Lyon"):
        await asyncio.sleep(0.02)
        user.update(city=city)
        await repo.save(user)
    recorded = [e.recorded_at async for e in store.read_stream(user.id.stream_id)]
    moments = [recorded[0] - timedelta(seconds=1), *recorded]
    moments.insert(3, recorded[1] + (recorded[2] - recorded[1]) / 2)

    cities = [(await repo.load(User, user.id, as_of=m)).city for m in moments]
    versions = [(await repo.load(User, user.id, as_of=m)).version for m in moments]

    assert versions == [0, 1, 2, 2, 3]
    assert cities == ["", "", "Paris", "Paris", "Lyon"]
    assert (await repo.load(User, user.id, as_of=datetime.now(UTC))).city == "Lyon"


async def test_time_travel_needs_an_aware_timestamp_and_one_kind_of_target(
    repo: Repository,
) -> None:
    user_id = UserId.new()
    with pytest.raises(InvalidInput):
        await repo.load(User, user_id, as_of=datetime.now())  # naive on purpose
    with pytest.raises(InvalidInput):
        await repo.load(User, user_id, version=1, as_of=datetime.now(UTC))


async def test_an_id_of_another_aggregate_type_is_refused(repo: Repository) -> None:
    with pytest.raises(InvalidInput):
        await repo.load(User, FormId.new())
