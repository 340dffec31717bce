"""The read-model tables of the item-item recommender, on either backend.

Every row is keyed by tenant first (``""`` for a store without tenants): no query
can reach another tenant's interactions, and each tenant's model is its own.
"""

from __future__ import annotations

from headwater.projections import INTEGER, JSON, REAL, TEXT, Column, Table

#: What each user did: one row per (user, item). ``seq`` numbers a user's distinct
#: items in log order; it bounds which earlier items a new one co-occurs with.
USER_ITEMS = Table(
    "rec_user_items",
    {
        "tenant_id": TEXT,
        "user_id": TEXT,
        "item_id": TEXT,
        "weight": REAL,
        "seq": INTEGER,
        "last_position": INTEGER,
    },
    primary_key=("tenant_id", "user_id", "item_id"),
    indexes=[("tenant_id", "user_id", "seq")],
)

#: How many users share each ordered pair of items (stored both ways, so one index
#: scan on ``item_a`` gives every neighbour of an item).
PAIRS = Table(
    "rec_pairs",
    {"tenant_id": TEXT, "item_a": TEXT, "item_b": TEXT, "count": INTEGER},
    primary_key=("tenant_id", "item_a", "item_b"),
)

#: Each item's strongest neighbours: the ``neighbours`` pairs of ``PAIRS`` with the
#: highest count (ties by ``item_b``), copied with their counts. Serving reads only
#: these: a bounded row count per history item instead of every neighbour (a popular
#: MovieLens film co-occurs with ~2,500 others). Counts only grow, so the projection
#: can keep each list exact with an upsert and a prune (see ``projection.py``).
NEIGHBOURS = Table(
    "rec_neighbours",
    {"tenant_id": TEXT, "item_a": TEXT, "item_b": TEXT, "count": INTEGER},
    primary_key=("tenant_id", "item_a", "item_b"),
)

#: Per item: distinct users (the cosine's norm, and popularity) and summed weight.
ITEM_STATS = Table(
    "rec_item_stats",
    {"tenant_id": TEXT, "item_id": TEXT, "users": INTEGER, "weight": REAL},
    primary_key=("tenant_id", "item_id"),
    indexes=[("tenant_id", "users")],
)

#: The catalogue: titles for explanations, availability and groups for filters.
ITEMS = Table(
    "rec_items",
    {
        "tenant_id": TEXT,
        "item_id": TEXT,
        "title": TEXT,
        "available": Column(INTEGER, default=1),
        "item_group": TEXT,
        "categories": JSON,
    },
    primary_key=("tenant_id", "item_id"),
)

PREFERENCES = Table(
    "rec_preferences",
    {"tenant_id": TEXT, "user_id": TEXT, "hidden_items": JSON, "liked_categories": JSON},
    primary_key=("tenant_id", "user_id"),
)

ITEM_ITEM_TABLES = (USER_ITEMS, PAIRS, NEIGHBOURS, ITEM_STATS, ITEMS, PREFERENCES)
