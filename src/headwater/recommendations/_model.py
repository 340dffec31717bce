"""The item-item model in memory, two ways: incrementally and from scratch.

:class:`ItemItemModel` applies interactions one at a time with exactly the rules of
the projection (``projection.py``); :func:`batch_counts` computes the same counts from
a whole list at once with numpy, and :func:`batch_neighbours` ranks each item's
strongest neighbours from those counts. Tests hold the projection's tables, the incremental
model and the batch computation equal; the offline evaluation and the benchmark use
the in-memory model to score MovieLens quickly with the serving code's scoring.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from headwater.recommendations._projection import DEFAULT_NEIGHBOURS, DEFAULT_WINDOW
from headwater.recommendations._scoring import DEFAULT_SHRINKAGE, Scored, score_neighbours

#: (tenant, user, item, weight), in log order.
Row = tuple[str, str, str, float]


@dataclass
class _History:
    items: dict[str, float] = field(default_factory=dict)  # item -> summed weight
    order: list[str] = field(default_factory=list)  # distinct items, first touch first


class ItemItemModel:
    """Co-occurrence counts updated per interaction (the projection's rules, in dicts)."""

    def __init__(
        self, *, window: int = DEFAULT_WINDOW, neighbours: int = DEFAULT_NEIGHBOURS
    ) -> None:
        self.window = window
        self.neighbours = neighbours
        self.histories: dict[tuple[str, str], _History] = {}
        self.pairs: dict[tuple[str, str], dict[str, int]] = {}
        self.users: dict[tuple[str, str], int] = {}
        self.weights: dict[tuple[str, str], float] = {}

    def apply(self, tenant: str, user: str, item: str, weight: float) -> None:
        history = self.histories.setdefault((tenant, user), _History())
        key = (tenant, item)
        self.weights[key] = self.weights.get(key, 0.0) + weight
        if item in history.items:
            history.items[item] += weight
            return
        mine = self.pairs.setdefault(key, {})
        for other in history.order[-self.window :] if self.window else ():
            mine[other] = mine.get(other, 0) + 1
            theirs = self.pairs.setdefault((tenant, other), {})
            theirs[item] = theirs.get(item, 0) + 1
        self.users[key] = self.users.get(key, 0) + 1
        history.items[item] = weight
        history.order.append(item)

    def apply_all(self, rows: Iterable[Row]) -> None:
        for tenant, user, item, weight in rows:
            self.apply(tenant, user, item, weight)

    def pair_counts(self) -> dict[tuple[str, str, str], int]:
        return {
            (tenant, a, b): count
            for (tenant, a), neighbours in self.pairs.items()
            for b, count in neighbours.items()
        }

    def strongest(self, tenant: str, item: str) -> dict[str, int]:
        """The item's listed neighbours, as the projection keeps them (computed here
        from all counts when asked: the model is for tests and offline use)."""
        return strongest(self.pairs.get((tenant, item), {}), self.neighbours)

    def score(
        self,
        tenant: str,
        user: str,
        *,
        history_limit: int = DEFAULT_WINDOW,
        shrinkage: float = DEFAULT_SHRINKAGE,
    ) -> Scored:
        """Candidates for ``user`` from their ``history_limit`` latest items (as served)."""
        history = self.histories.get((tenant, user))
        if history is None:
            return score_neighbours({}, [], {})
        recent = history.order[-history_limit:]
        rows = [
            (a, b, count, self.users[(tenant, b)])
            for a in recent
            for b, count in self.strongest(tenant, a).items()
        ]
        users_of = {a: self.users[(tenant, a)] for a in recent}
        return score_neighbours(
            {a: history.items[a] for a in recent}, rows, users_of, shrinkage=shrinkage
        )


def batch_counts(
    rows: Sequence[Row], *, window: int = DEFAULT_WINDOW
) -> dict[tuple[str, str, str], int]:
    """The pair counts computed from scratch, vectorised: the reference the incremental
    paths must equal, and the benchmark's batch baseline."""
    firsts: dict[tuple[str, str], list[str]] = {}
    seen: set[tuple[str, str, str]] = set()
    for tenant, user, item, _ in rows:
        if (tenant, user, item) not in seen:
            seen.add((tenant, user, item))
            firsts.setdefault((tenant, user), []).append(item)
    codes: dict[tuple[str, str], int] = {}
    a_parts: list[np.ndarray] = []
    b_parts: list[np.ndarray] = []
    for (tenant, _user), items in firsts.items():
        seq = np.fromiter(
            (codes.setdefault((tenant, i), len(codes)) for i in items), np.int64, len(items)
        )
        for offset in range(1, min(window, len(seq) - 1) + 1):
            a_parts += [seq[offset:], seq[:-offset]]
            b_parts += [seq[:-offset], seq[offset:]]
    if not a_parts:
        return {}
    size = len(codes)
    keys, counts = np.unique(
        np.concatenate(a_parts) * size + np.concatenate(b_parts), return_counts=True
    )
    names = list(codes)
    out: dict[tuple[str, str, str], int] = {}
    for key, count in zip(keys.tolist(), counts.tolist(), strict=True):
        (tenant, a), (_, b) = names[key // size], names[key % size]
        out[(tenant, a, b)] = count
    return out


def strongest(pairs: dict[str, int], neighbours: int) -> dict[str, int]:
    """The ``neighbours`` pairs with the highest count, ties by item id (as SQL's
    ``ORDER BY count DESC, item_b``)."""
    if len(pairs) <= neighbours:
        return pairs
    return dict(sorted(pairs.items(), key=lambda pair: (-pair[1], pair[0]))[:neighbours])


def batch_neighbours(
    counts: dict[tuple[str, str, str], int], *, neighbours: int = DEFAULT_NEIGHBOURS
) -> dict[tuple[str, str, str], int]:
    """Each item's strongest neighbours, ranked from scratch out of ``batch_counts``:
    what ``rec_neighbours`` must hold after the same interactions."""
    by_item: dict[tuple[str, str], dict[str, int]] = {}
    for (tenant, a, b), count in counts.items():
        by_item.setdefault((tenant, a), {})[b] = count
    return {
        (tenant, a, b): count
        for (tenant, a), pairs in by_item.items()
        for b, count in strongest(pairs, neighbours).items()
    }


class FrozenItemItem:
    """A read-only, array-backed copy of one tenant's model, for scoring thousands of
    users at once (offline evaluation, benchmarks). Same formula as
    :func:`~headwater.recommendations._scoring.score_neighbours`; tests check both agree."""

    def __init__(self, model: ItemItemModel, tenant: str = "") -> None:
        self.model = model
        self.tenant = tenant
        self.items = sorted(i for (t, i) in model.users if t == tenant)
        self.index = {item: n for n, item in enumerate(self.items)}
        self.users = np.array([model.users[(tenant, i)] for i in self.items], dtype=np.float64)
        self._neighbours: list[tuple[np.ndarray, np.ndarray]] = []
        for item in self.items:
            pairs = model.strongest(tenant, item)
            self._neighbours.append(
                (
                    np.fromiter((self.index[b] for b in pairs), np.int64, len(pairs)),
                    np.fromiter(pairs.values(), np.float64, len(pairs)),
                )
            )

    def scores(
        self,
        user: str,
        *,
        history_limit: int = DEFAULT_WINDOW,
        shrinkage: float = DEFAULT_SHRINKAGE,
    ) -> np.ndarray:
        """A score per item of :attr:`items` (zero where nothing co-occurs)."""
        out = np.zeros(len(self.items))
        history = self.model.histories.get((self.tenant, user))
        if history is None:
            return out
        for item in history.order[-history_limit:]:
            a = self.index[item]
            targets, counts = self._neighbours[a]
            weight = np.log1p(history.items[item])
            out[targets] += (
                weight * counts / (np.sqrt(self.users[a] * self.users[targets]) + shrinkage)
            )
        return out

    def top(self, user: str, k: int, **options: float) -> list[str]:
        """The ``k`` best unseen items, ties by item id (as the recommender ranks)."""
        scores = self.scores(user, **options)  # type: ignore[arg-type]
        history = self.model.histories.get((self.tenant, user))
        seen = history.items if history is not None else {}
        order = np.lexsort((np.arange(len(self.items)), -scores))
        out = []
        for n in order.tolist():
            if scores[n] <= 0:
                break
            if self.items[n] not in seen:
                out.append(self.items[n])
                if len(out) == k:
                    break
        return out
