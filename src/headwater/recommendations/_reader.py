"""Reads of the item-item read models for one tenant (reader connections, no writes)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from headwater.eventstore._protocol import EventStore
from headwater.recommendations._tables import (
    ITEM_STATS,
    ITEMS,
    NEIGHBOURS,
    PREFERENCES,
    USER_ITEMS,
)


@dataclass(frozen=True, slots=True)
class CatalogueEntry:
    title: str
    available: bool
    group: str
    categories: tuple[str, ...]


def _marks(count: int) -> str:
    return ", ".join("?" * count)


class ItemItemReader:
    def __init__(self, store: EventStore) -> None:
        self.store = store

    async def history(self, tenant: str, user: str) -> list[tuple[str, float]]:
        """The user's items with summed weights, latest first-touch first."""
        rows = await self.store.fetchall(
            f"SELECT item_id, weight FROM {USER_ITEMS.ref} "
            "WHERE tenant_id = ? AND user_id = ? ORDER BY seq DESC",
            (tenant, user),
        )
        return [(str(r[0]), float(r[1])) for r in rows]

    async def neighbours(
        self, tenant: str, items: Sequence[str], limit: int
    ) -> list[tuple[str, str, int, int]]:
        """``(a, b, c_ab, n_b)`` for each item's ``limit`` strongest neighbours b."""
        if not items:
            return []
        # The projection lets lists grow a little past ``limit`` between prunes; the
        # longer ones are cut here, in Python: ranking in SQL (a window function over
        # every list) cost twice the plain primary-key range read.
        rows = await self.store.fetchall(
            f"SELECT p.item_a, p.item_b, p.count, s.users FROM {NEIGHBOURS.ref} p "
            f"JOIN {ITEM_STATS.ref} s ON s.tenant_id = p.tenant_id AND s.item_id = p.item_b "
            f"WHERE p.tenant_id = ? AND p.item_a IN ({_marks(len(items))})",
            (tenant, *items),
        )
        lists: dict[str, list[tuple[str, str, int, int]]] = {}
        for row in rows:
            lists.setdefault(row[0], []).append(row)
        out: list[tuple[str, str, int, int]] = []
        for listed in lists.values():
            if len(listed) > limit:
                # The projection's order: count descending, ties by item id (codepoints).
                listed = sorted(listed, key=lambda r: (-r[2], r[1]))[:limit]
            out.extend(listed)
        # Rows as the driver gives them (str, str, int, int): the scorer reads columns.
        return out

    async def users_of(self, tenant: str, items: Sequence[str]) -> dict[str, int]:
        if not items:
            return {}
        rows = await self.store.fetchall(
            f"SELECT item_id, users FROM {ITEM_STATS.ref} "
            f"WHERE tenant_id = ? AND item_id IN ({_marks(len(items))})",
            (tenant, *items),
        )
        return {str(i): int(n) for i, n in rows}

    async def popular(self, tenant: str, limit: int) -> list[tuple[str, int]]:
        rows = await self.store.fetchall(
            f"SELECT item_id, users FROM {ITEM_STATS.ref} WHERE tenant_id = ? "
            "ORDER BY users DESC, item_id LIMIT ?",
            (tenant, limit),
        )
        return [(str(i), int(n)) for i, n in rows]

    async def catalogue(self, tenant: str, items: Sequence[str]) -> dict[str, CatalogueEntry]:
        if not items:
            return {}
        rows = await self.store.fetchall(
            f"SELECT item_id, title, available, item_group, categories FROM {ITEMS.ref} "
            f"WHERE tenant_id = ? AND item_id IN ({_marks(len(items))})",
            (tenant, *items),
        )
        out = {}
        for item, title, available, group, categories in rows:
            out[str(item)] = CatalogueEntry(
                str(title),
                bool(available),
                str(group),
                tuple(ITEMS.decode("categories", categories) or ()),
            )
        return out

    async def preferences(self, tenant: str, user: str) -> tuple[set[str], set[str]]:
        """(hidden items, liked categories) of a user."""
        row = await self.store.fetchone(
            f"SELECT hidden_items, liked_categories FROM {PREFERENCES.ref} "
            "WHERE tenant_id = ? AND user_id = ?",
            (tenant, user),
        )
        if row is None:
            return set(), set()
        hidden = PREFERENCES.decode("hidden_items", row[0])
        liked = PREFERENCES.decode("liked_categories", row[1])
        return set(hidden or ()), set(liked or ())
