"""Erasure: the key goes, SubjectErased is recorded, reads yield replacements, the log stays."""

from __future__ import annotations

import uuid

import pytest

from headwater.domain import Repository
from headwater.errors import InvalidInput
from headwater.eventstore import EventStore
from headwater.privacy import Eraser, SubjectErased, SubjectKeys, erasure_stream
from tests.privacy.model import Person, PersonId

pytestmark = pytest.mark.anyio


async def _register(repo: Repository, tenant: str, name: str, email: str) -> Person:
    person = Person.blank(PersonId.new())
    person.register(name, email, city="Lyon")
    await repo.save(person, tenant_id=tenant)
    return person


async def test_after_erasure_every_read_yields_the_replacement_values(
    repo: Repository, eraser: Eraser
) -> None:
    person = await _register(repo, "t1", "Ada", "ada@example.org")

    await eraser.erase_subject("t1", person.stream_id, actor="admin-1")
    loaded = await repo.load(Person, person.id, tenant_id="t1")

    assert (loaded.name, loaded.email, loaded.city) == ("[erased]", None, "Lyon")


async def test_erasure_never_rewrites_the_log_and_records_subject_erased(
    repo: Repository, eraser: Eraser, store: EventStore
) -> None:
    person = await _register(repo, "t1", "Ada", "ada@example.org")
    before = [r async for r in store.read_all()]

    result = await eraser.erase_subject("t1", person.stream_id, actor="admin-1")
    after = [r async for r in store.read_all()]

    assert after[: len(before)] == before
    [erased] = after[len(before) :]
    assert erased.type == SubjectErased.event_type
    assert erased.stream_id == erasure_stream("t1", person.stream_id)
    assert erased.tenant_id == "t1"
    assert erased.metadata["actor"] == "admin-1"
    assert (result.position, result.erased_now) == (erased.position, True)


async def test_erasing_twice_destroys_and_records_nothing_new(
    repo: Repository, eraser: Eraser, store: EventStore
) -> None:
    person = await _register(repo, "t1", "Ada", "ada@example.org")
    first = await eraser.erase_subject("t1", person.stream_id)
    second = await eraser.erase_subject("t1", person.stream_id)

    assert second.erased_now is False
    assert second.position == first.position
    assert await store.head_position() == first.position


async def test_what_is_written_about_an_erased_subject_is_stored_as_replacements(
    repo: Repository, eraser: Eraser, store: EventStore, keys: SubjectKeys
) -> None:
    person = await _register(repo, "t1", "Ada", "ada@example.org")
    await eraser.erase_subject("t1", person.stream_id)

    again = await repo.load(Person, person.id, tenant_id="t1")
    again.rename("Ada Again")
    await repo.save(again, tenant_id="t1")

    assert "Ada Again" not in str([r.data async for r in store.read_all()])
    assert await keys.fetch("t1", [person.stream_id]) == {}
    assert (await repo.load(Person, person.id, tenant_id="t1")).name == "[erased]"


async def test_erasing_the_subject_of_a_note_leaves_the_stream_owner_readable(
    repo: Repository, eraser: Eraser
) -> None:
    owner = await _register(repo, "t1", "Owner", "owner@example.org")
    owner.note(about="person-bob", text="Bob's allergy: peanuts")
    await repo.save(owner, tenant_id="t1")

    await eraser.erase_subject("t1", "person-bob")
    loaded = await repo.load(Person, owner.id, tenant_id="t1")

    assert loaded.name == "Owner"
    assert loaded.notes == [""]


async def test_erasing_in_one_tenant_leaves_the_same_subject_in_another_readable(
    repo: Repository, eraser: Eraser, store: EventStore
) -> None:
    # The same stream id in two tenants is refused by the store, so a note names the
    # same subject id from a stream in each tenant.
    subject = f"person-{uuid.uuid4().hex}"
    streams: dict[str, Person] = {}
    for tenant in ("t1", "t2"):
        holder = await _register(repo, tenant, f"holder {tenant}", f"{tenant}@example.org")
        holder.note(about=subject, text=f"about the subject in {tenant}")
        await repo.save(holder, tenant_id=tenant)
        streams[tenant] = holder

    await eraser.erase_subject("t1", subject)

    t1 = await repo.load(Person, streams["t1"].id, tenant_id="t1")
    t2 = await repo.load(Person, streams["t2"].id, tenant_id="t2")
    assert t1.notes == [""]
    assert t2.notes == ["about the subject in t2"]


@pytest.mark.parametrize("subject", ["", "   ", "x" * 201])
async def test_a_bad_subject_is_refused_before_anything_is_destroyed(
    eraser: Eraser, store: EventStore, subject: str
) -> None:
    with pytest.raises(InvalidInput):
        await eraser.erase_subject("t1", subject)
    assert await store.head_position() == 0


class _Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str | None, str]] = []

    async def subject_erased(self, tenant_id: str | None, subject: str) -> None:
        self.calls.append((tenant_id, subject))


class _Broken:
    async def subject_erased(self, tenant_id: str | None, subject: str) -> None:
        raise RuntimeError("read model down")


async def test_every_listener_is_told_even_when_one_fails(
    store: EventStore, keys: SubjectKeys
) -> None:
    recorder = _Recorder()
    eraser = Eraser(store, keys, listeners=[_Broken(), recorder])

    await eraser.erase_subject("t1", "person-1")

    assert recorder.calls == [("t1", "person-1")]
