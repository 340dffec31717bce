"""Offline ranking metrics: precision, NDCG at k, and catalogue coverage.

Precision follows the ``implicit`` library's ``ranking_metrics_at_k`` (hits divided
by ``min(k, held-out items)``), so a user with three held-out items can reach 1.0;
the figures in the issue and in ``tests/recommendations`` use this definition.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RankingMetrics:
    precision: float
    ndcg: float
    coverage: float
    users: int


def precision_at_k(recommended: Sequence[str], relevant: Collection[str], k: int) -> float:
    if not relevant:
        return 0.0
    hits = sum(1 for item in recommended[:k] if item in relevant)
    return hits / min(k, len(relevant))


def ndcg_at_k(recommended: Sequence[str], relevant: Collection[str], k: int) -> float:
    if not relevant:
        return 0.0
    dcg = sum(
        1.0 / math.log2(rank + 2) for rank, item in enumerate(recommended[:k]) if item in relevant
    )
    ideal = sum(1.0 / math.log2(rank + 2) for rank in range(min(k, len(relevant))))
    return dcg / ideal


def evaluate(
    recommendations: Mapping[str, Sequence[str]],
    held_out: Mapping[str, Collection[str]],
    catalogue: Iterable[str],
    k: int = 10,
) -> RankingMetrics:
    """Mean P@k and NDCG@k over users with held-out items; coverage is the share of
    the catalogue that appears in at least one list."""
    users = [u for u, items in held_out.items() if items]
    if not users:
        return RankingMetrics(0.0, 0.0, 0.0, 0)
    precision = sum(precision_at_k(recommendations.get(u, ()), held_out[u], k) for u in users)
    ndcg = sum(ndcg_at_k(recommendations.get(u, ()), held_out[u], k) for u in users)
    shown = {item for u in users for item in recommendations.get(u, ())[:k]}
    size = len(set(catalogue))
    return RankingMetrics(
        precision / len(users), ndcg / len(users), len(shown) / size if size else 0.0, len(users)
    )
