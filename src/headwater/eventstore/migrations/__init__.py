"""Versioned plain-SQL migrations.

Each component (the event store, and later read models, jobs...) keeps numbered
files ``NNNN_name.sql`` in a folder per dialect. Applied versions are recorded in
``hw_migrations``; a migration and its record commit in one transaction, so a
crash mid-migration leaves nothing half-applied.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from headwater.eventstore._protocol import EventStore

Dialect = Literal["sqlite", "postgresql"]

_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")

CREATE_MIGRATIONS_TABLE = """
CREATE TABLE IF NOT EXISTS hw_migrations (
    component TEXT NOT NULL,
    version INTEGER NOT NULL,
    name TEXT NOT NULL,
    applied_at TEXT NOT NULL,
    PRIMARY KEY (component, version)
)
"""


@dataclass(frozen=True, slots=True)
class Migration:
    component: str
    version: int
    name: str
    sql: str


def load_migrations(package: str, component: str, dialect: Dialect) -> list[Migration]:
    """The migrations shipped in ``package``/``dialect``/, in version order."""
    folder = resources.files(package).joinpath(dialect)
    found: list[Migration] = []
    for entry in folder.iterdir():
        match = _NAME.match(entry.name)
        if match is None:
            continue
        found.append(
            Migration(component, int(match.group(1)), match.group(2), entry.read_text("utf-8"))
        )
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if versions != list(range(1, len(found) + 1)):
        raise RuntimeError(f"{package}/{dialect}: migrations must be numbered 1..n, got {versions}")
    return found


def event_store_migrations(dialect: Dialect) -> list[Migration]:
    return load_migrations(__name__, "eventstore", dialect)


async def apply_migrations(store: EventStore, migrations: list[Migration]) -> list[str]:
    """Apply a component's pending migrations to the store's database, in order.

    Each migration and its ``hw_migrations`` row commit in one transaction. On
    PostgreSQL, concurrent starters serialise on an advisory lock, so two nodes
    starting together never apply one migration twice.
    """
    applied: list[str] = []
    for migration in migrations:
        async with store.transaction() as tx:
            if tx.dialect == "postgresql":
                await tx.execute("SELECT pg_advisory_xact_lock(hashtext('headwater.migrations'))")
            await tx.execute_script(CREATE_MIGRATIONS_TABLE)
            done = await tx.fetchone(
                "SELECT 1 FROM hw_migrations WHERE component = ? AND version = ?",
                (migration.component, migration.version),
            )
            if done:
                continue
            await tx.execute_script(migration.sql)
            await tx.execute(
                "INSERT INTO hw_migrations (component, version, name, applied_at) "
                "VALUES (?, ?, ?, ?)",
                (
                    migration.component,
                    migration.version,
                    migration.name,
                    datetime.now(UTC).isoformat(),
                ),
            )
            applied.append(f"{migration.component}/{migration.version:04d}_{migration.name}")
    return applied
