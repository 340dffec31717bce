"""``headwater erase``: a subject erased from the command line reads as replacements."""

from __future__ import annotations

import asyncio
from pathlib import Path

from typer.testing import CliRunner

from headwater.cli._main import app
from headwater.domain import Repository, default_registry
from headwater.eventstore import create_event_store
from headwater.privacy import PersonalDataCipher, SubjectKeys
from tests.privacy.model import Person, PersonId

runner = CliRunner(env={"COLUMNS": "200"})


async def _register(url: str) -> Person:
    store = await create_event_store(url)
    try:
        keys = SubjectKeys(store)
        await keys.migrate()
        person = Person.blank(PersonId.new())
        person.register("Ada", "ada@example.org")
        await Repository(store, cipher=PersonalDataCipher(default_registry, keys)).save(
            person, tenant_id="t1"
        )
        return person
    finally:
        await store.close()


async def _name(url: str, person: Person) -> str:
    store = await create_event_store(url)
    try:
        cipher = PersonalDataCipher(default_registry, SubjectKeys(store))
        return (await Repository(store, cipher=cipher).load(Person, person.id, tenant_id="t1")).name
    finally:
        await store.close()


def test_erase_destroys_the_key_and_says_so_then_is_idempotent(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'node.db'}"
    person = asyncio.run(_register(url))

    first = runner.invoke(app, ["erase", person.stream_id, "--tenant", "t1", "--url", url])
    second = runner.invoke(app, ["erase", person.stream_id, "--tenant", "t1", "--url", url])

    assert first.exit_code == 0, first.output
    assert "erased; SubjectErased at position" in first.output
    assert "was already erased" in second.output
    assert asyncio.run(_name(url, person)) == "[erased]"


def test_erase_refuses_an_empty_subject_with_a_clear_message(tmp_path: Path) -> None:
    result = runner.invoke(app, ["erase", " ", "--url", f"sqlite:///{tmp_path / 'n.db'}"])
    assert result.exit_code == 1
    assert "erase failed" in result.output
