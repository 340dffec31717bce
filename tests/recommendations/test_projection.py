"""The item-item projection equals the in-memory model and a from-scratch batch
computation, on every backend, and survives a rebuild."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from headwater.eventstore import EventStore
from headwater.projections import ProjectionRunner, rebuild
from headwater.recommendations import (
    Interaction,
    InteractionTracker,
    ItemItemModel,
    batch_counts,
    batch_neighbours,
    item_item_projection,
)
from headwater.recommendations._model import strongest as strongest_of
from headwater.recommendations._projection import slack
from headwater.recommendations._tables import ITEM_STATS, PAIRS, USER_ITEMS
from headwater.recommendations._tables import NEIGHBOURS as NEIGHBOURS_TABLE

pytestmark = pytest.mark.anyio

WINDOW = 3  # small, so that hypothesis's short histories cross the window's edge
NEIGHBOURS = 2  # small, so that lists overflow, prune and tie on counts

interactions = st.lists(
    st.tuples(
        st.sampled_from(["u1", "u2", "u3", "u4"]),
        st.sampled_from(["a", "b", "c", "d", "e", "f"]),
        st.sampled_from([1.0, 2.5, 5.0]),
    ),
    max_size=40,
)


async def _pairs(
    store: EventStore, tenant: str, table: str = PAIRS.ref
) -> dict[tuple[str, str, str], int]:
    rows = await store.fetchall(
        f"SELECT item_a, item_b, count FROM {table} WHERE tenant_id = ?", (tenant,)
    )
    return {(tenant, a, b): int(c) for a, b, c in rows}


async def _users(store: EventStore, tenant: str) -> dict[str, tuple[int, float]]:
    rows = await store.fetchall(
        f"SELECT item_id, users, weight FROM {ITEM_STATS.ref} WHERE tenant_id = ?", (tenant,)
    )
    return {i: (int(n), round(float(w), 6)) for i, n, w in rows}


async def _history(store: EventStore, tenant: str) -> dict[tuple[str, str], tuple[int, float]]:
    rows = await store.fetchall(
        f"SELECT user_id, item_id, seq, weight FROM {USER_ITEMS.ref} WHERE tenant_id = ?",
        (tenant,),
    )
    return {(u, i): (int(s), round(float(w), 6)) for u, i, s, w in rows}


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(batch=interactions)
async def test_incremental_projection_equals_batch_computation(
    store: EventStore, batch: list[tuple[str, str, float]]
) -> None:
    # A fresh tenant per example: one store serves every example, isolated by tenant.
    tenant = uuid.uuid4().hex[:12]
    tracker = InteractionTracker(store)
    for user, item, weight in batch:
        await tracker.track(Interaction(user, item, "rate", weight), tenant_id=tenant)
    projection = item_item_projection(window=WINDOW, neighbours=NEIGHBOURS)
    await ProjectionRunner(store, projection).catch_up()

    rows = [(tenant, u, i, w) for u, i, w in batch]
    model = ItemItemModel(window=WINDOW, neighbours=NEIGHBOURS)
    model.apply_all(rows)
    expected = batch_counts(rows, window=WINDOW)
    assert model.pair_counts() == expected
    assert await _pairs(store, tenant) == expected
    strongest = batch_neighbours(expected, neighbours=NEIGHBOURS)
    listed = await _pairs(store, tenant, NEIGHBOURS_TABLE.ref)
    lists: dict[str, dict[str, int]] = {}
    for (_, a, b), count in listed.items():
        assert expected[(tenant, a, b)] == count  # listed counts are the live counts
        lists.setdefault(a, {})[b] = count
    assert all(len(pairs) <= slack(NEIGHBOURS) for pairs in lists.values())  # pruned
    # What the reader ranks out of each list is the batch's strongest neighbours.
    assert {
        (tenant, a, b): count
        for a, pairs in lists.items()
        for b, count in strongest_of(pairs, NEIGHBOURS).items()
    } == strongest
    assert {
        (tenant, a, b): count
        for (t, a) in model.users
        for b, count in model.strongest(t, a).items()
    } == strongest
    assert await _users(store, tenant) == {
        item: (model.users[(tenant, item)], round(model.weights[(tenant, item)], 6))
        for (_, item) in model.users
    }
    history = await _history(store, tenant)
    for (_, user), h in model.histories.items():
        for seq, item in enumerate(h.order, start=1):
            assert history.pop((user, item)) == (seq, round(h.items[item], 6))
    assert history == {}


async def test_other_tenants_interactions_never_count(store: EventStore) -> None:
    tracker = InteractionTracker(store)
    for tenant in ("acme", "globex"):
        for user, item in [("u1", "a"), ("u1", "b"), ("u2", "a"), ("u2", "b")]:
            await tracker.track(Interaction(user, item), tenant_id=tenant)
    await ProjectionRunner(store, item_item_projection()).catch_up()
    assert await _pairs(store, "acme") == {("acme", "a", "b"): 2, ("acme", "b", "a"): 2}
    assert await _users(store, "globex") == {"a": (2, 2.0), "b": (2, 2.0)}


async def test_idempotent_tracking_counts_a_retried_interaction_once(store: EventStore) -> None:
    tracker = InteractionTracker(store)
    for _ in range(3):
        await tracker.track(Interaction("u1", "a", "like"), tenant_id="t", key="req-1")
    await tracker.track(Interaction("u1", "b"), tenant_id="t", key="req-2")
    await ProjectionRunner(store, item_item_projection()).catch_up()
    assert await _users(store, "t") == {"a": (1, 3.0), "b": (1, 1.0)}


async def test_rebuild_from_the_log_reproduces_the_live_tables(store: EventStore) -> None:
    tracker = InteractionTracker(store)
    for n in range(60):
        await tracker.track(Interaction(f"u{n % 7}", f"i{(n * 5) % 11}"), tenant_id="t")
    projection = item_item_projection()
    await ProjectionRunner(store, projection).catch_up()
    before = (
        await _pairs(store, "t"),
        await _pairs(store, "t", NEIGHBOURS_TABLE.ref),
        await _users(store, "t"),
        await _history(store, "t"),
    )
    await rebuild(store, projection)
    after = (
        await _pairs(store, "t"),
        await _pairs(store, "t", NEIGHBOURS_TABLE.ref),
        await _users(store, "t"),
        await _history(store, "t"),
    )
    assert after == before
    assert before[0]  # the rebuild had something to reproduce
