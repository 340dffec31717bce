"""The item-item model as a projection: co-occurrence counts kept current per event.

Each interaction updates the counts in place (no batch retrain). When a user touches
an item for the first time, that item co-occurs once with each of the user's
``window`` previous distinct items (both directions), and the item gains one user.
Repeated interactions only add to the user's weight for the item. A session-sized
window keeps the cost of one interaction bounded (a user with 2,000 items would
otherwise write 4,000 rows per click) and, on MovieLens, recommends better than
all-pairs co-occurrence (P@10 0.286 against 0.257, see ``tests/recommendations``).

Each item also keeps its ``neighbours`` strongest neighbours (highest count, ties by
item id) in ``rec_neighbours``, which is all that serving reads. Counts only grow, so
when an interaction raises some counts, an item's new list is within its old list plus
the pairs just raised: upserting those pairs and pruning each touched list back to
``neighbours`` rows keeps every list's best rows exactly what a from-scratch ranking
gives (``model.batch_neighbours``); lists are pruned once they grow by a quarter, and the
reader cuts them. Ties are ordered by the database's collation: binary
on SQLite, the database's on PostgreSQL (``C`` here, which is codepoint order too).

The handlers return SQL only; the counting happens in the database, inside the
runner's transaction, so the rows and the checkpoint commit together (exactly once).
Within one event the statements run in the listed order: the pair and item-count
statements test "has this user seen the item yet?", so they must run before the
statement that records the item for the user; the neighbour statements read the
pair counts, so they run after the pair statements.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Final

from headwater.eventstore._records import RecordedEvent
from headwater.eventstore._sql import Statement
from headwater.projections import Projection
from headwater.recommendations._events import (
    INTERACTION_RECORDED,
    ITEM_DESCRIBED,
    PREFERENCES_UPDATED,
    Interaction,
)
from headwater.recommendations._tables import (
    ITEM_ITEM_TABLES,
    ITEM_STATS,
    ITEMS,
    NEIGHBOURS,
    PAIRS,
    PREFERENCES,
    USER_ITEMS,
)

PROJECTION_NAME: Final = "recommendations_item_item"
#: How many of a user's previous distinct items a new item co-occurs with.
DEFAULT_WINDOW: Final = 50
#: How many neighbours per item serving reads. On MovieLens 100 keeps P@10 at 0.260
#: and NDCG@10 at 0.278 (all neighbours: 0.266 / 0.283) and halves what a request
#: reads; 50 drops P@10 to 0.246 (see ``tests/recommendations/test_evaluation.py``).
DEFAULT_NEIGHBOURS: Final = 100


def _window_sql() -> str:
    """The user's ``window`` latest distinct items (parameters: tenant, user, tenant,
    user, window)."""
    history = USER_ITEMS.ref
    return (
        f"SELECT h.item_id FROM {history} h "
        "WHERE h.tenant_id = ? AND h.user_id = ? "
        f"AND h.seq > (SELECT COALESCE(MAX(seq), 0) FROM {history} "
        "WHERE tenant_id = ? AND user_id = ?) - ?"
    )


def _unseen_sql() -> str:
    """True while the user has not touched the item (parameters: tenant, user, item)."""
    return (
        f"NOT EXISTS (SELECT 1 FROM {USER_ITEMS.ref} "
        "WHERE tenant_id = ? AND user_id = ? AND item_id = ?)"
    )


def _raised_sql() -> str:
    """The pairs a new item raises, both ways: (item, w) and (w, item) for each item w
    of the window (parameters: item, *window, item, *window)."""
    return (
        f"SELECT CAST(? AS TEXT) AS item_a, w.item_id AS item_b FROM ({_window_sql()}) w "
        f"UNION ALL SELECT w.item_id, CAST(? AS TEXT) FROM ({_window_sql()}) w"
    )


def _neighbour_sql() -> str:
    # Copies the counts just raised into the lists, as upserts: a pair already listed
    # takes its new count, a new one joins (the prune below trims the list again).
    # Each raised pair is one lookup on the pairs' primary key (tenant, item_a, item_b).
    pairs, neighbours = PAIRS.ref, NEIGHBOURS.ref
    return (
        f"INSERT INTO {neighbours} (tenant_id, item_a, item_b, count) "
        f"SELECT p.tenant_id, p.item_a, p.item_b, p.count FROM ({_raised_sql()}) r "
        f"JOIN {pairs} p ON p.tenant_id = ? AND p.item_a = r.item_a AND p.item_b = r.item_b "
        f"WHERE {_unseen_sql()} "
        "ON CONFLICT (tenant_id, item_a, item_b) DO UPDATE SET count = excluded.count"
    )


def slack(neighbours: int) -> int:
    """How long a list may grow before it is pruned back to ``neighbours`` rows."""
    return neighbours + max(1, neighbours // 4)


def _prune_sql() -> str:
    # Lists may grow by a quarter before a prune trims them back: ranking every
    # touched list on every interaction (51 sorts of ~100 rows) held SQLite at 48
    # interactions/s. A list then holds its best ``neighbours`` rows and possibly a
    # few weaker ones, which the reader cuts (the invariant is only "no row among
    # the best is ever deleted", which trimming to the best keeps).
    neighbours = NEIGHBOURS.ref
    return (
        f"DELETE FROM {neighbours} WHERE tenant_id = ? AND (item_a, item_b) IN ("
        "SELECT item_a, item_b FROM (SELECT item_a, item_b, ROW_NUMBER() OVER ("
        "PARTITION BY item_a ORDER BY count DESC, item_b) AS place "
        f"FROM {neighbours} WHERE tenant_id = ? AND item_a IN ("
        f"SELECT item_a FROM {neighbours} WHERE tenant_id = ? "
        # IN over a UNION rather than "item_a = ? OR item_a IN": an OR here made
        # SQLite scan the whole table instead of the primary key.
        f"AND item_a IN (SELECT ? UNION ALL {_window_sql()}) "
        "GROUP BY item_a HAVING COUNT(*) > ?)) ranked WHERE place > ?) "
        f"AND {_unseen_sql()}"
    )


def _pair_sql() -> str:
    # Built per call from Table.ref: a rebuild aims the same handler at fresh tables.
    # Both directions in one statement: on PostgreSQL each statement is a round trip.
    # The two directions never hit the same row (the item is not in its own window),
    # which one INSERT ... ON CONFLICT requires on PostgreSQL.
    # SQLite needs the WHERE before ON CONFLICT (its parser's INSERT ... SELECT rule).
    pairs = PAIRS.ref
    return (
        f"INSERT INTO {pairs} (tenant_id, item_a, item_b, count) "
        f"SELECT ?, r.item_a, r.item_b, 1 FROM ({_raised_sql()}) r WHERE {_unseen_sql()} "
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
    tenant: str,
    user: str,
    item: str,
    weight: float,
    position: int,
    window: int,
    neighbours: int = DEFAULT_NEIGHBOURS,
) -> list[Statement]:
    seen = (tenant, user, item)
    recent = (tenant, user, tenant, user, window)
    return [
        Statement(_pair_sql(), (tenant, item, *recent, item, *recent, *seen)),
        Statement(_neighbour_sql(), (item, *recent, item, *recent, tenant, *seen)),
        Statement(
            _prune_sql(),
            (tenant, tenant, tenant, item, *recent, slack(neighbours), neighbours, *seen),
        ),
        Statement(_stats_sql(), (tenant, item, *seen, weight)),
        Statement(_history_sql(), (tenant, user, item, weight, position, tenant, user)),
    ]


#: Reads an interaction out of another event type (an app's own "joined a game"), so an
#: app need not record each interaction twice. None skips the event.
InteractionSource = Callable[[RecordedEvent], Interaction | None]


def item_item_projection(
    *,
    window: int = DEFAULT_WINDOW,
    neighbours: int = DEFAULT_NEIGHBOURS,
    sources: Mapping[str, InteractionSource] | None = None,
) -> Projection:
    """The projection; ``window`` and ``neighbours`` are part of its version, so
    changing either rebuilds.

    ``sources`` maps other event types to interactions: the model then learns from
    an app's own events too (their types are part of the fingerprint, so adding a
    source rebuilds the model from the whole log).
    """
    projection = Projection(
        PROJECTION_NAME, tables=ITEM_ITEM_TABLES, version=1_000_000 * neighbours + 1000 + window
    )

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
            neighbours,
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
            neighbours,
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
