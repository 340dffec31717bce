"""Per-tenant, per-subject encryption keys in their own table of the store's database.

Keys never leave this table: they are not events (so never in the log or a
backup's segments), never logged, never put in a cache. Deleting a key is the
erasure: every personal field sealed under it becomes unreadable at once, in every
copy of the log, without rewriting one event.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Iterable
from typing import Any, Final

from headwater.eventstore import EventStore, Transaction
from headwater.eventstore._codec import now_micros
from headwater.eventstore.migrations import apply_migrations, load_migrations

COMPONENT: Final = "privacy"
_MIGRATIONS: Final = "headwater.privacy.migrations"
KEY_BYTES: Final = 32  # AES-256
#: Subjects per IN (...) list: far below SQLite's 32,766 host parameters.
_CHUNK: Final = 500
_CHECKPOINT_ATTEMPTS: Final = 20

log = logging.getLogger(__name__)


def tenant_key(tenant_id: str | None) -> str:
    """The table's spelling of "no tenant" ('' — NULL would never match a primary key)."""
    return "" if tenant_id is None else tenant_id


class SubjectKeys:
    """The ``hw_subject_keys`` table of ``store``'s database."""

    def __init__(self, store: EventStore) -> None:
        self.store = store

    async def migrate(self) -> list[str]:
        migrations = load_migrations(_MIGRATIONS, COMPONENT, self.store.dialect)
        return await apply_migrations(self.store, migrations)

    async def ensure(self, tenant_id: str | None, subjects: Iterable[str]) -> dict[str, bytes]:
        """Each subject's key, minting keys for subjects never seen before.

        Erased subjects are absent from the answer: their tombstone stops a new key
        from being minted, so whatever is written about them later is stored with
        replacement values only.
        """
        wanted = sorted(set(subjects))
        if not wanted:
            return {}
        tenant = tenant_key(tenant_id)
        rows = await self._rows(tenant, wanted)
        known = {s: key for s, key in rows.items() if key is not None}
        missing = [s for s in wanted if s not in rows]
        if missing:
            now = now_micros()
            # ON CONFLICT DO NOTHING, then read back: two writers minting a key for the
            # same new subject at once both end up using the one that committed first.
            async with self.store.transaction() as tx:
                await tx.executemany(
                    "INSERT INTO hw_subject_keys (tenant_id, subject, key, created_at) "
                    "VALUES (?, ?, ?, ?) ON CONFLICT (tenant_id, subject) DO NOTHING",
                    [(tenant, s, os.urandom(KEY_BYTES), now) for s in missing],
                )
            known.update(await self.fetch(tenant_id, missing))
        return known

    async def _erased(self, tenant: str, subject: str) -> set[str]:
        rows = await self.store.fetchall(
            "SELECT subject FROM hw_subject_keys "
            "WHERE tenant_id = ? AND subject = ? AND key IS NULL",
            (tenant, subject),
        )
        return {str(row[0]) for row in rows}

    async def fetch(self, tenant_id: str | None, subjects: Iterable[str]) -> dict[str, bytes]:
        """The live keys of those subjects (erased and unknown ones are absent)."""
        rows = await self._rows(tenant_key(tenant_id), sorted(set(subjects)))
        return {subject: key for subject, key in rows.items() if key is not None}

    async def _rows(self, tenant: str, subjects: list[str]) -> dict[str, bytes | None]:
        found: dict[str, bytes | None] = {}
        for start in range(0, len(subjects), _CHUNK):
            chunk = subjects[start : start + _CHUNK]
            marks = ", ".join("?" for _ in chunk)
            rows = await self.store.fetchall(
                f"SELECT subject, key FROM hw_subject_keys "
                f"WHERE tenant_id = ? AND subject IN ({marks})",
                (tenant, *chunk),
            )
            found.update({str(r[0]): None if r[1] is None else bytes(r[1]) for r in rows})
        return found

    async def is_erased(self, tenant_id: str | None, subject: str) -> bool:
        return bool(await self._erased(tenant_key(tenant_id), subject))

    async def erase(self, tenant_id: str | None, subject: str) -> bool:
        """Destroy the subject's key, leaving a tombstone. False if it was erased already."""
        tenant = tenant_key(tenant_id)
        now = now_micros()
        async with self.store.transaction() as tx:
            if tx.dialect == "sqlite":
                # Zero the key's old bytes in the page instead of leaving them in free
                # space, where a copy of the file would still hold them.
                await tx.execute("PRAGMA secure_delete = ON")
            # The upsert covers a subject nothing was ever sealed for: the tombstone still
            # stops a key from being minted for them later.
            before = await _key_state(tx, tenant, subject)
            await tx.execute(
                "INSERT INTO hw_subject_keys (tenant_id, subject, key, created_at, erased_at) "
                "VALUES (?, ?, NULL, ?, ?) ON CONFLICT (tenant_id, subject) "
                "DO UPDATE SET key = NULL, erased_at = COALESCE(hw_subject_keys.erased_at, ?)",
                (tenant, subject, now, now, now),
            )
        if self.store.dialect == "sqlite":
            # The WAL still holds the page image with the key from when it was minted;
            # checkpointing and truncating it is what actually destroys that copy.
            for attempt in range(_CHECKPOINT_ATTEMPTS):
                [(busy, *_)] = await self.store.fetchall("PRAGMA wal_checkpoint(TRUNCATE)")
                if not busy:
                    break
                # A reader still uses the WAL; it lets go within its own short read.
                await asyncio.sleep(0.01 * (attempt + 1))
            else:
                log.warning(
                    "the WAL could not be truncated after an erasure; it will be at the "
                    "next checkpoint"
                )
        return before != "erased"

    async def erased_subjects(self, tenant_id: str | None) -> list[str]:
        rows = await self.store.fetchall(
            "SELECT subject FROM hw_subject_keys WHERE tenant_id = ? AND key IS NULL "
            "ORDER BY subject",
            (tenant_key(tenant_id),),
        )
        return [str(row[0]) for row in rows]


async def _key_state(tx: Transaction, tenant: str, subject: str) -> str:
    row: tuple[Any, ...] | None = await tx.fetchone(
        "SELECT key IS NULL FROM hw_subject_keys WHERE tenant_id = ? AND subject = ?",
        (tenant, subject),
    )
    if row is None:
        return "unknown"
    return "erased" if row[0] else "live"
