"""The ALS model: trained from the log, served from its tables, chosen per tenant, and
the answer says which model gave it."""

from __future__ import annotations

import pytest

from headwater.eventstore import EventStore
from headwater.projections import ProjectionRunner
from headwater.recommendations import (
    Interaction,
    InteractionTracker,
    Recommender,
    item_item_projection,
)
from headwater.recommendations._als import ALS_RUNS, AlsModel, AlsOptions, AlsTrainer, create_tables

pytestmark = pytest.mark.anyio

HISTORIES = {
    "ann": ["heat", "ronin", "blockbuster"],
    "bob": ["heat", "ronin", "thief", "blockbuster"],
    "cid": ["heat", "thief", "blockbuster"],
    "dan": ["ronin", "thief", "blockbuster"],
    "eve": ["cars", "blockbuster"],
    "fay": ["cars", "planes", "blockbuster"],
}
OPTIONS = AlsOptions(factors=4, iterations=10)


async def _seed(store: EventStore, tenants: tuple[str, ...]) -> InteractionTracker:
    tracker = InteractionTracker(store)
    for tenant in tenants:
        for user, items in HISTORIES.items():
            for item in items:
                await tracker.track(Interaction(user, item, "like"), tenant_id=tenant)
    await ProjectionRunner(store, item_item_projection()).catch_up()
    await create_tables(store)
    return tracker


async def test_tenants_choose_their_model_and_answers_name_it(store: EventStore) -> None:
    await _seed(store, ("acme", "globex"))
    trainer = AlsTrainer(store, OPTIONS)
    assert await trainer.train("acme") == len(HISTORIES)
    recommender = Recommender(
        store, als=AlsModel(store), models={"acme": "als", "globex": "item_item"}
    )
    acme = await recommender.recommend("ann", k=2, tenant_id="acme")
    assert acme.model == "als"
    assert acme.items
    assert not {"heat", "ronin", "blockbuster"} & {r.item_id for r in acme.items}
    assert all(r.because_item_id in {"heat", "ronin", "blockbuster"} for r in acme.items)
    globex = await recommender.recommend("ann", k=2, tenant_id="globex")
    assert globex.model == "item_item"


async def test_users_newer_than_the_run_get_item_item_until_the_next_run(
    store: EventStore,
) -> None:
    tracker = await _seed(store, ("acme",))
    trainer = AlsTrainer(store, OPTIONS)
    await trainer.train("acme")
    await tracker.track(Interaction("gus", "heat", "like"), tenant_id="acme")
    await ProjectionRunner(store, item_item_projection()).catch_up()
    recommender = Recommender(store, als=AlsModel(store), default_model="als")
    assert (await recommender.recommend("gus", tenant_id="acme")).model == "item_item"
    await trainer.train("acme")
    assert (await recommender.recommend("gus", tenant_id="acme")).model == "als"
    run = await store.fetchone(
        f"SELECT run, users FROM {ALS_RUNS.ref} WHERE tenant_id = ?", ("acme",)
    )
    assert run == (2, len(HISTORIES) + 1)


async def test_blend_mixes_both_models(store: EventStore) -> None:
    await _seed(store, ("acme",))
    await AlsTrainer(store, OPTIONS).train("acme")
    recommender = Recommender(store, als=AlsModel(store), default_model="blend")
    answer = await recommender.recommend("eve", k=3, tenant_id="acme")
    assert answer.model == "blend"
    assert "blockbuster" not in {r.item_id for r in answer.items}
    assert "planes" in {r.item_id for r in answer.items}


async def test_training_a_tenant_without_interactions_writes_nothing(store: EventStore) -> None:
    await create_tables(store)
    assert await AlsTrainer(store, OPTIONS).train("nobody") == 0
    assert await store.fetchall(f"SELECT * FROM {ALS_RUNS.ref}") == []
