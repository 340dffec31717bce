"""Sealing personal fields: the log holds ciphertext and replacements, readers the truth."""

from __future__ import annotations

import dataclasses

import pytest

from headwater.domain import Repository, default_registry
from headwater.domain._personal import SEALED_KEY, personal_fields
from headwater.eventstore import EventStore
from headwater.privacy import PersonalDataCipher
from tests.privacy.model import NoteAdded, Person, PersonId, PersonRegistered

pytestmark = pytest.mark.anyio


def test_personal_fields_are_read_from_the_annotations() -> None:
    assert personal_fields(PersonRegistered) == {"name": "[erased]", "email": None}
    assert personal_fields(NoteAdded) == {"text": ""}


async def test_the_log_holds_replacements_and_ciphertext_never_the_values(
    repo: Repository, store: EventStore
) -> None:
    person = Person.blank(PersonId.new())
    person.register("Ada Lovelace", "ada@example.org", city="London")
    await repo.save(person, tenant_id="t1")

    [record] = [r async for r in store.read_all()]
    assert record.data["name"] == "[erased]"
    assert record.data["email"] is None
    assert record.data["city"] == "London"  # not declared personal: stored as is
    assert record.data[SEALED_KEY]["subject"] == person.stream_id
    assert "Ada" not in str(record.data)
    assert "ada@" not in str(record.data)


async def test_a_loaded_aggregate_sees_the_real_values(repo: Repository) -> None:
    person = Person.blank(PersonId.new())
    person.register("Ada", "ada@example.org")
    person.rename("Ada King")
    await repo.save(person, tenant_id="t1")

    loaded = await repo.load(Person, person.id, tenant_id="t1")

    assert (loaded.name, loaded.email) == ("Ada King", "ada@example.org")


async def test_a_reader_without_the_cipher_decodes_replacement_values(
    repo: Repository, store: EventStore
) -> None:
    person = Person.blank(PersonId.new())
    person.register("Ada", "ada@example.org", city="London")
    await repo.save(person, tenant_id="t1")

    plain = await Repository(store).load(Person, person.id, tenant_id="t1")

    assert (plain.name, plain.email, plain.city) == ("[erased]", None, "London")


async def test_a_ciphertext_copied_into_another_event_does_not_open(
    repo: Repository, store: EventStore, cipher: PersonalDataCipher
) -> None:
    ada = Person.blank(PersonId.new())
    ada.register("Ada", "ada@example.org")
    bob = Person.blank(PersonId.new())
    bob.register("Bob", "bob@example.org")
    await repo.save(ada, tenant_id="t1")
    await repo.save(bob, tenant_id="t1")
    ada_record, bob_record = [r async for r in store.read_all()]

    # Bob's event carrying Ada's sealed values (and her subject) must not show them.
    forged = dataclasses.replace(bob_record, data={**ada_record.data})
    [opened] = await cipher.open([forged])

    assert opened.data["name"] == "[erased]"


async def test_a_note_is_sealed_under_the_subject_its_class_names(
    repo: Repository, cipher: PersonalDataCipher
) -> None:
    new = default_registry.encode(NoteAdded(about="person-x", text="t"))
    assert "text" in personal_fields(NoteAdded)
    sealed = await cipher.seal([new], stream_id="s-1", tenant_id="t1")
    assert sealed[0].data[SEALED_KEY]["subject"] == "person-x"
    assert sealed[0].data["text"] == ""
