"""The security tables: their migrations, their inline projection, and how to query them.

Every process that appends security events must attach the inline handler (the
``SecurityModule`` does it at start, ``bootstrap`` for the CLI); an append made
without it would never reach the lookup tables.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from typing import Any, Final

from headwater.eventstore import EventStore
from headwater.eventstore.migrations import apply_migrations, load_migrations
from headwater.security._lookup import project_security_events

COMPONENT: Final = "security"
_PACKAGE: Final = "headwater.security.migrations"

_attached: weakref.WeakSet[EventStore] = weakref.WeakSet()


async def migrate(store: EventStore) -> list[str]:
    """Create or upgrade the security tables (idempotent; nodes take turns on PostgreSQL)."""
    return await apply_migrations(store, load_migrations(_PACKAGE, COMPONENT, store.dialect))


async def is_current(store: EventStore) -> bool:
    """Whether every shipped migration is applied (read-only: for nodes that must not migrate)."""
    expected = load_migrations(_PACKAGE, COMPONENT, store.dialect)
    # hw_migrations exists: an event store only opens on a migrated schema.
    row = await fetch_one(
        store, "SELECT MAX(version) FROM hw_migrations WHERE component = ?", (COMPONENT,)
    )
    return row is not None and row[0] is not None and int(row[0]) >= len(expected)


def attach(store: EventStore) -> None:
    """Hook the lookup projection into every append of ``store`` (once)."""
    if store not in _attached:
        store.add_inline_handler(project_security_events)
        _attached.add(store)


def detach(store: EventStore) -> None:
    if store in _attached:
        store.remove_inline_handler(project_security_events)
        _attached.discard(store)


async def fetch_one(
    store: EventStore, sql: str, params: Sequence[Any] = ()
) -> tuple[Any, ...] | None:
    return await store.fetchone(sql, params)


async def fetch_all(
    store: EventStore, sql: str, params: Sequence[Any] = ()
) -> list[tuple[Any, ...]]:
    return await store.fetchall(sql, params)
