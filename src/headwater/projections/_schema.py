"""Apply a component's versioned plain-SQL migrations through ``store.transaction()``.

The generic part is ``headwater.eventstore.migrations.apply_migrations``. Each
migration and its ``hw_migrations`` row commit in one transaction, so a crash
leaves a migration either applied and recorded or neither.
"""

from __future__ import annotations

import weakref
from typing import Final

from headwater.eventstore._protocol import EventStore
from headwater.eventstore.migrations import apply_migrations, load_migrations

COMPONENT: Final = "projections"
_PACKAGE: Final = "headwater.projections.migrations"

# Stores whose projection schema this process has brought up to date already.
_migrated: weakref.WeakSet[EventStore] = weakref.WeakSet()


async def apply_component_migrations(store: EventStore, package: str, component: str) -> list[str]:
    """Apply ``package``'s pending migrations for ``store.dialect``; return their names."""
    return await apply_migrations(store, load_migrations(package, component, store.dialect))


async def migrate_projections(store: EventStore) -> list[str]:
    """Create or upgrade ``hw_projections`` and ``hw_poison_events`` (once per process)."""
    if store in _migrated:
        return []
    applied = await apply_component_migrations(store, _PACKAGE, COMPONENT)
    _migrated.add(store)
    return applied
