"""Projections rebuilt after erasures equal the live ones, byte for byte.

Projections read the log as stored: personal fields hold their replacement values
and only the subject id travels in the clear. So a read model never holds a
personal value that erasure would have to chase, and a rebuild from the same log
gives the same rows whether it runs before or after any erasure.
"""

from __future__ import annotations

import pytest

from headwater.domain import Repository
from headwater.eventstore import EventStore, RecordedEvent, Statement
from headwater.privacy import Eraser
from headwater.privacy._cipher import subject_in
from headwater.projections import INTEGER, TEXT, Projection, Table, attach_inline, rebuild
from tests.privacy.model import NoteAdded, Person, PersonId, PersonRegistered, PersonRenamed

pytestmark = pytest.mark.anyio

PEOPLE = Table(
    "privacy_people",
    {
        "stream_id": TEXT,
        "tenant_id": TEXT,
        "subject": TEXT,
        "name": TEXT,
        "city": TEXT,
        "notes": INTEGER,
    },
    primary_key="stream_id",
    tenant_column="tenant_id",
)
people = Projection("privacy_people", tables=[PEOPLE], mode="inline")


@people.on(PersonRegistered)
def _registered(event: RecordedEvent) -> Statement:
    return PEOPLE.upsert(
        {
            "stream_id": event.stream_id,
            "tenant_id": event.tenant_id or "",
            "subject": subject_in(event) or "",
            "name": event.data["name"],
            "city": event.data["city"],
            "notes": 0,
        }
    )


@people.on(PersonRenamed)
def _renamed(event: RecordedEvent) -> Statement:
    return PEOPLE.update({"name": event.data["name"]}, where={"stream_id": event.stream_id})


@people.on(NoteAdded)
def _noted(event: RecordedEvent) -> Statement:
    return PEOPLE.update(
        {"city": f"noted:{event.data['text']}"}, where={"stream_id": event.stream_id}
    )


async def _rows(store: EventStore) -> list[tuple[object, ...]]:
    return [tuple(row) for row in await store.fetchall(PEOPLE.select_all_sql())]


async def test_a_rebuild_after_erasures_equals_the_live_read_model(
    store: EventStore, repo: Repository, eraser: Eraser
) -> None:
    await attach_inline(store, [people])
    everyone = []
    for index in range(6):
        person = Person.blank(PersonId.new())
        person.register(f"Secret Name {index}", f"s{index}@example.org", city=f"City {index}")
        person.rename(f"Secret Renamed {index}")
        person.note(about=f"other-{index}", text=f"secret note {index}")
        await repo.save(person, tenant_id=f"t{index % 2}")
        everyone.append(person)
    for person in everyone[::2]:
        await eraser.erase_subject(f"t{everyone.index(person) % 2}", person.stream_id)
    live = await _rows(store)

    await rebuild(store, people)
    rebuilt = await _rows(store)

    assert rebuilt == live
    assert len(live) == 6
    assert "Secret" not in repr(live)
    assert {row[2] for row in live} == {p.stream_id for p in everyone}
