"""The audit trail: who did what per tenant, paged, filtered, exported, erased people replaced."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest

from headwater.domain import Repository, default_registry
from headwater.errors import InvalidInput
from headwater.eventstore import EventStore
from headwater.privacy import (
    AuditQuery,
    AuditTrail,
    Eraser,
    PersonalDataCipher,
    to_csv,
)
from tests.privacy.model import Person, PersonId, PersonRegistered, PersonRenamed

pytestmark = pytest.mark.anyio


async def _people(repo: Repository) -> list[Person]:
    people = []
    for index, (tenant, actor) in enumerate([("t1", "alice"), ("t1", "bob"), ("t2", "alice")]):
        person = Person.blank(PersonId.new())
        person.register(f"Person {index}", f"p{index}@example.org")
        person.rename(f"Renamed {index}")
        await repo.save(person, tenant_id=tenant, metadata={"actor": actor})
        people.append(person)
    return people


async def test_the_trail_shows_one_tenants_actors_in_log_order(
    repo: Repository, store: EventStore, cipher: PersonalDataCipher
) -> None:
    await _people(repo)
    page = await AuditTrail(store, cipher=cipher).page("t1")

    assert [(e.actor, e.type) for e in page.entries] == [
        ("alice", PersonRegistered.event_type),
        ("alice", PersonRenamed.event_type),
        ("bob", PersonRegistered.event_type),
        ("bob", PersonRenamed.event_type),
    ]
    assert page.entries[0].data["name"] == "Person 0"
    assert page.next_after is None


async def test_filters_by_actor_type_stream_and_time_combine(
    repo: Repository, store: EventStore
) -> None:
    people = await _people(repo)
    trail = AuditTrail(store)

    by_actor = await trail.page("t1", AuditQuery(actor="bob"))
    by_type = await trail.page("t1", AuditQuery(types=(PersonRenamed.event_type,)))
    by_stream = await trail.page("t1", AuditQuery(stream_id=people[0].stream_id))
    future = await trail.page("t1", AuditQuery(since=datetime.now(UTC) + timedelta(hours=1)))
    past = await trail.page("t1", AuditQuery(until=datetime.now(UTC) - timedelta(hours=1)))

    assert {e.actor for e in by_actor.entries} == {"bob"}
    assert len(by_actor.entries) == 2
    assert {e.type for e in by_type.entries} == {PersonRenamed.event_type}
    assert len(by_type.entries) == 2
    assert {e.stream_id for e in by_stream.entries} == {people[0].stream_id}
    assert (future.entries, past.entries) == ([], [])


async def test_pages_follow_each_other_without_gap_or_repeat(
    repo: Repository, store: EventStore
) -> None:
    await _people(repo)
    trail = AuditTrail(store)
    seen: list[int] = []
    after = 0
    while True:
        page = await trail.page("t1", after=after, limit=1)
        seen.extend(e.position for e in page.entries)
        if page.next_after is None:
            break
        after = page.next_after

    everything = await trail.page("t1")
    assert seen == [e.position for e in everything.entries]


async def test_an_erased_subject_appears_by_replacement_values(
    repo: Repository, store: EventStore, cipher: PersonalDataCipher, eraser: Eraser
) -> None:
    people = await _people(repo)
    await eraser.erase_subject("t1", people[0].stream_id, actor="dpo")
    trail = AuditTrail(store, cipher=cipher)

    entries = (await trail.page("t1")).entries
    mine = [e for e in entries if e.stream_id == people[0].stream_id]
    assert [e.data["name"] for e in mine] == ["[erased]", "[erased]"]
    assert entries[-1].actor == "dpo"
    assert entries[-1].data == {"subject": people[0].stream_id}
    assert next(e for e in entries if e.stream_id == people[1].stream_id).data["name"] == (
        "Person 1"
    )


async def test_the_csv_export_has_a_header_and_one_row_per_entry(
    repo: Repository, store: EventStore
) -> None:
    await _people(repo)
    entries = (await AuditTrail(store).page("t2")).entries

    rows = list(csv.reader(io.StringIO(to_csv(entries))))

    assert rows[0][:5] == ["position", "recorded_at", "actor", "stream_id", "type"]
    assert len(rows) == 1 + len(entries) == 3


@pytest.mark.parametrize(("after", "limit"), [(-1, 10), (0, 0), (0, 501)])
async def test_bad_paging_is_refused(store: EventStore, after: int, limit: int) -> None:
    with pytest.raises(InvalidInput):
        await AuditTrail(store).page("t1", after=after, limit=limit)


def test_a_time_filter_must_carry_a_time_zone() -> None:
    with pytest.raises(InvalidInput):
        AuditQuery(since=datetime(2026, 1, 1))


def test_the_registry_knows_subject_erased() -> None:
    assert "headwater.SubjectErased" in default_registry
