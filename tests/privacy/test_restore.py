"""A backup restore re-applies erasure: keys are never in a backup, so the erased stay erased."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from headwater.backup._directory import DirectoryTarget
from headwater.backup._shipper import Shipper
from headwater.backup.restore import restore
from headwater.domain import Repository, default_registry
from headwater.eventstore import EventStore, create_event_store
from headwater.privacy import Eraser, PersonalDataCipher, SubjectKeys
from tests.privacy.model import Person, PersonId

pytestmark = pytest.mark.anyio


@pytest.fixture
async def destination(store_url: str) -> AsyncIterator[EventStore]:
    store = await create_event_store(store_url, migrate=True)
    yield store
    await store.close()


async def _copy_keys(source: EventStore, destination: SubjectKeys) -> None:
    rows = await source.fetchall(
        "SELECT tenant_id, subject, key, created_at, erased_at FROM hw_subject_keys"
    )
    async with destination.store.transaction() as tx:
        await tx.executemany(
            "INSERT INTO hw_subject_keys (tenant_id, subject, key, created_at, erased_at) "
            "VALUES (?, ?, ?, ?, ?)",
            [tuple(row) for row in rows],
        )


async def test_a_person_erased_after_the_backup_stays_erased_after_a_restore(
    tmp_path: Path, destination: EventStore
) -> None:
    source = await create_event_store(f"sqlite:///{tmp_path / 'source.db'}")
    try:
        keys = SubjectKeys(source)
        await keys.migrate()
        repo = Repository(source, cipher=PersonalDataCipher(default_registry, keys))
        ada, bob = Person.blank(PersonId.new()), Person.blank(PersonId.new())
        ada.register("Ada", "ada@example.org")
        bob.register("Bob", "bob@example.org")
        await repo.save(ada, tenant_id="t1")
        await repo.save(bob, tenant_id="t1")
        target = DirectoryTarget(tmp_path / "backup")
        shipper = Shipper(source, target)
        await shipper.open()
        await shipper.ship_once()  # the backup holds Ada's sealed fields

        await Eraser(source, keys).erase_subject("t1", ada.stream_id)

        # The log is lost; the key table (its own table, not in any backup) is what the
        # database still holds, here copied into the restored database.
        await restore(target, destination)
        restored_keys = SubjectKeys(destination)
        await restored_keys.migrate()
        await _copy_keys(source, restored_keys)
        restored = Repository(
            destination, cipher=PersonalDataCipher(default_registry, restored_keys)
        )

        assert (await restored.load(Person, ada.id, tenant_id="t1")).name == "[erased]"
        assert (await restored.load(Person, bob.id, tenant_id="t1")).name == "Bob"
    finally:
        await source.close()


async def test_no_key_travels_in_a_backup(tmp_path: Path, destination: EventStore) -> None:
    source = await create_event_store(f"sqlite:///{tmp_path / 'source.db'}")
    try:
        keys = SubjectKeys(source)
        await keys.migrate()
        repo = Repository(source, cipher=PersonalDataCipher(default_registry, keys))
        ada = Person.blank(PersonId.new())
        ada.register("Ada", "ada@example.org")
        await repo.save(ada, tenant_id="t1")
        target = DirectoryTarget(tmp_path / "backup")
        shipper = Shipper(source, target)
        await shipper.open()
        await shipper.ship_once()
        [key] = (await keys.fetch("t1", [ada.stream_id])).values()

        await restore(target, destination)
        blobs = [p.read_bytes() for p in (tmp_path / "backup").rglob("*") if p.is_file()]

        assert not any(key in blob for blob in blobs)
        fresh = SubjectKeys(destination)
        await fresh.migrate()
        alone = Repository(destination, cipher=PersonalDataCipher(default_registry, fresh))
        assert (await alone.load(Person, ada.id, tenant_id="t1")).name == "[erased]"
    finally:
        await source.close()
