"""Offline evaluation on MovieLens latest-small: the incremental item-item model, as
served, against the figures recorded in ``movielens_figures.json``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from headwater.recommendations import DEFAULT_NEIGHBOURS, DEFAULT_WINDOW, ItemItemModel
from headwater.recommendations._evaluation import (
    Split,
    evaluate_item_item,
    evaluate_popularity,
    movielens_split,
)
from headwater.recommendations._model import FrozenItemItem

FIGURES = json.loads((Path(__file__).parent / "movielens_figures.json").read_text())
TOLERANCE = 0.01


@pytest.fixture(scope="module")
def split() -> Split:
    return movielens_split()


def test_split_is_per_user_80_20_and_reproducible(split: Split) -> None:
    assert len(split.train) + sum(len(v) for v in split.held_out.values()) == 100_004
    assert len(split.held_out) == 671
    assert movielens_split().held_out == split.held_out  # fixed seed


@pytest.mark.slow
def test_item_item_model_reaches_its_recorded_precision_and_ndcg(split: Split) -> None:
    metrics = evaluate_item_item(
        split,
        window=DEFAULT_WINDOW,
        history_limit=DEFAULT_WINDOW,
        neighbours=DEFAULT_NEIGHBOURS,
    )
    popularity = evaluate_popularity(split)
    recorded = FIGURES["item_item"]
    assert metrics.precision >= 0.25
    assert metrics.ndcg >= recorded["ndcg_at_10"] - TOLERANCE, (metrics, recorded)
    assert metrics.precision > popularity.precision + 0.05
    assert metrics.coverage > 2 * popularity.coverage
    assert popularity.ndcg >= FIGURES["popularity"]["ndcg_at_10"] - TOLERANCE


def test_array_scoring_used_offline_ranks_as_the_serving_scorer_does(split: Split) -> None:
    users = sorted(split.held_out)[:25]
    model = ItemItemModel()
    model.apply_all(("", u, i, w) for u, i, w in split.train if u in users)
    frozen = FrozenItemItem(model)
    for user in users:
        served = model.score("", user)
        by_item = dict(zip(served.items, served.scores.tolist(), strict=True))
        fast = frozen.scores(user)
        for n, item in enumerate(frozen.items):
            assert fast[n] == pytest.approx(by_item.get(item, 0.0), rel=1e-9, abs=1e-12)
        seen = model.histories[("", user)].items
        assert frozen.top(user, 10) == [served.items[n] for n in served.top(10, seen)]
    assert np.isfinite(frozen.users).all()


@pytest.mark.slow
def test_als_extra_reaches_its_recorded_precision_and_ndcg(split: Split) -> None:
    from headwater.recommendations._evaluation import evaluate_als

    metrics = evaluate_als(split)
    recorded = FIGURES["als"]
    assert metrics.precision >= 0.28
    assert metrics.ndcg >= recorded["ndcg_at_10"] - TOLERANCE, (metrics, recorded)
