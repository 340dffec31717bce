"""Versioned plain-SQL migrations, applied through any backend's transaction."""

from __future__ import annotations

import pytest

from headwater.eventstore import create_event_store
from headwater.eventstore.migrations import Migration, apply_migrations, event_store_migrations

pytestmark = pytest.mark.anyio

SCRIPT = """
-- two tables and a comment, in one migration
CREATE TABLE demo_a (x INTEGER);
CREATE TABLE demo_b (y TEXT)
"""


async def test_pending_migrations_apply_once_in_order(store_url: str) -> None:
    migrations = [
        Migration("demo", 1, "tables", SCRIPT),
        Migration("demo", 2, "index", "CREATE INDEX demo_a_x ON demo_a (x);"),
    ]
    async with await create_event_store(store_url, migrate=True) as store:
        assert await apply_migrations(store, migrations) == ["demo/0001_tables", "demo/0002_index"]
        assert await apply_migrations(store, migrations) == []
        async with store.transaction() as tx:
            await tx.execute("INSERT INTO demo_b (y) VALUES (?)", ("ok",))
            assert await tx.fetchall("SELECT y FROM demo_b") == [("ok",)]


async def test_a_failing_migration_leaves_nothing_half_applied(store_url: str) -> None:
    broken = [Migration("demo", 1, "broken", "CREATE TABLE demo_c (x INT);\nNOT SQL AT ALL;")]
    async with await create_event_store(store_url, migrate=True) as store:
        with pytest.raises(Exception, match=r"(?i)syntax"):
            await apply_migrations(store, broken)
        async with store.transaction() as tx:
            rows = await tx.fetchall(
                "SELECT version FROM hw_migrations WHERE component = ?", ("demo",)
            )
        assert rows == []
        # the table from the first statement was rolled back with the rest
        assert await apply_migrations(
            store, [Migration("demo", 1, "t", "CREATE TABLE demo_c (x INT);")]
        )


def test_event_store_migrations_are_numbered_from_one() -> None:
    for dialect in ("sqlite", "postgresql"):
        versions = [m.version for m in event_store_migrations(dialect)]
        assert versions == list(range(1, len(versions) + 1))
