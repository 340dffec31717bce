"""The item-item model as a projection: co-occurrence counts kept current per event.

Each interaction updates the counts in place (no batch retrain). When a user touches
an item for the first time, that item co-occurs once with each of the user's
``window`` previous distinct items (both directions), and the item gains one user.
Repeated interactions only add to the user's weight for the item. A session-sized
window keeps the cost of one interaction bounded (a user with 2,000 items would
otherwise write 4,000 rows per click) and, on MovieLens, recommends better than
all-pairs co-occurrence (P@10 0.286 against 0.257, see ``tests/recommendations``).

The handlers return SQL only; the counting happens in the database, inside the
runner's transaction, so the rows and the checkpoint commit together (exactly once).
Within one event the statements run in the listed order: the pair and item-count
statements test "has this user seen the item yet?", so they must run before the
statement that records the item for the user.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Final

from headwater.eventstore.records import RecordedEvent
from headwater.eventstore.sql import Statement
from headwater.projections import Projection
from headwater.recommendations.events import (
    INTERACTION_RECORDED,
    ITEM_DESCRIBED,
    PREFERENCES_UPDATED,
    Interaction,
)
from headwater.recommendations.tables import (
    ITEM_ITEM_TABLES,
    ITEM_STATS,
    ITEMS,
    PAIRS,
    PREFERENCES,
    USER_ITEMS,
)

PROJECTION_NAME: Final = "recommendations_item_item"
#: How many of a user's previous distinct items a new item co-occurs with.
DEFAULT_WINDOW: Final = 50


def _pair_sql(forward: bool) -> str:
    # Built per call from Table.ref: a rebuild aims the same handler at fresh tables.
    history, pairs = USER_ITEMS.ref, PAIRS.ref
    chosen = "?, h.item_id" if forward else "h.item_id, ?"
    # SQLite needs the WHERE before ON CONFLICT (its parser's INSERT ... SELECT rule).
    return (
        f"INSERT INTO {pairs} (tenant_id, item_a, item_b, count) "
        f"SELECT ?, {chosen}, 1 FROM {history} h "
        "WHERE h.tenant_id = ? AND h.user_id = ? "
        f"AND h.seq > (SELECT COALESCE(MAX(seq), 0) FROM {history} "
        "WHERE tenant_id = ? AND user_id = ?) - ? "
        f"AND NOT EXISTS (SELECT 1 FROM {history} "
        "WHERE tenant_id = ? AND user_id = ? AND item_id = ?) "
        f"ON CONFLICT (tenant_id, item_a, item_b) DO UPDATE SET count = {pairs}.count + 1"
    )


def _stats_sql() -> str:
    stats, history = ITEM_STATS.ref, USER_ITEMS.ref
    return (
        f"INSERT INTO {stats} (tenant_id, item_id, users, weight) "
        f"SELECT ?, ?, CASE WHEN EXISTS (SELECT 1 FROM {history} "
        "WHERE tenant_id = ? AND user_id = ? AND item_id = ?) THEN 0 ELSE 1 END, ? "
        "WHERE 1 = 1 "
        "ON CONFLICT (tenant_id, item_id) DO UPDATE SET "
        f"users = {stats}.users + excluded.users, weight = {stats}.weight + excluded.weight"
    )


def _history_sql() -> str:
    history = USER_ITEMS.ref
    # The aggregate always yields one row: the next seq for a new item. On conflict
    # the seq is kept, so an item's place in the user's sequence is its first touch.
    return (
        f"INSERT INTO {history} (tenant_id, user_id, item_id, weight, seq, last_position) "
        f"SELECT ?, ?, ?, ?, COALESCE(MAX(seq), 0) + 1, ? FROM {history} "
        "WHERE tenant_id = ? AND user_id = ? "
        "ON CONFLICT (tenant_id, user_id, item_id) DO UPDATE SET "
        f"weight = {history}.weight + excluded.weight, "
        "last_position = excluded.last_position"
    )


def interaction_statements(
    tenant: str, user: str, item: str, weight: float, position: int, window: int
) -> list[Statement]:
    seen = (tenant, user, item)
    return [
        Statement(_pair_sql(True), (tenant, item, tenant, user, tenant, user, window, *seen)),
        Statement(_pair_sql(False), (tenant, item, tenant, user, tenant, user, window, *seen)),
        Statement(_stats_sql(), (tenant, item, *seen, weight)),
        Statement(_history_sql(), (tenant, user, item, weight, position, tenant, user)),
    ]


#: Reads an interaction out of another event type (an app's own "joined a game"), so an
#: app need not record each interaction twice. None skips the event.
InteractionSource = Callable[[RecordedEvent], Interaction | None]


def item_item_projection(
    *, window: int = DEFAULT_WINDOW, sources: Mapping[str, InteractionSource] | None = None
) -> Projection:
    """The projection; ``window`` is part of its version, so changing it rebuilds.

    ``sources`` maps other event types to interactions: the model then learns from
    an app's own events too (their types are part of the fingerprint, so adding a
    source rebuilds the model from the whole log).
    """
    projection = Projection(PROJECTION_NAME, tables=ITEM_ITEM_TABLES, version=1000 + window)

    def _from_source(event: RecordedEvent) -> list[Statement]:
        interaction = (sources or {})[event.type](event)
        if interaction is None:
            return []
        data = interaction.to_event(event.tenant_id, None).data
        return interaction_statements(
            event.tenant_id or "",
            data["user_id"],
            data["item_id"],
            float(data["weight"]),
            event.position,
            window,
        )

    for event_type in sorted(sources or {}):
        projection.on(event_type)(_from_source)

    @projection.on(INTERACTION_RECORDED)
    def _interaction(event: RecordedEvent) -> list[Statement]:
        data = event.data
        return interaction_statements(
            event.tenant_id or "",
            data["user_id"],
            data["item_id"],
            float(data["weight"]),
            event.position,
            window,
        )

    @projection.on(ITEM_DESCRIBED)
    def _item(event: RecordedEvent) -> Statement:
        data = event.data
        return ITEMS.upsert(
            {
                "tenant_id": event.tenant_id or "",
                "item_id": data["item_id"],
                "title": data["title"],
                "available": 1 if data["available"] else 0,
                "item_group": data["group"],
                "categories": data["categories"],
            }
        )

    @projection.on(PREFERENCES_UPDATED)
    def _preferences(event: RecordedEvent) -> Statement:
        data = event.data
        return PREFERENCES.upsert(
            {
                "tenant_id": event.tenant_id or "",
                "user_id": data["user_id"],
                "hidden_items": data["hidden_items"],
                "liked_categories": data["liked_categories"],
            }
        )

    return projection
