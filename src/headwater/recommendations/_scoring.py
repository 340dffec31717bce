"""Turning co-occurrence counts into ranked candidates, the same way for every source.

The SQL recommender and the in-memory reference model (``model.py``) both call
:func:`score_neighbours`, so the offline evaluation measures the code that serves.

Similarity is cosine with shrinkage: ``c_ab / (sqrt(n_a * n_b) + shrinkage)``, where
``c_ab`` counts users sharing a and b and ``n_x`` the users of x. The shrinkage
pulls pairs seen by few users towards zero (two users in common is weak evidence).
A history item contributes ``log1p(weight) * similarity``: a purchase counts more
than a view, but fifty views do not drown everything else.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

DEFAULT_SHRINKAGE: Final = 20.0


@dataclass(frozen=True, slots=True)
class Scored:
    """Candidates with their scores and, per candidate, the history item that
    contributed most (the "because you liked X" of the explanation)."""

    items: list[str]
    scores: npt.NDArray[np.float64]
    because: list[str]

    def top(self, count: int, exclude: Collection[str] = ()) -> list[int]:
        """Indices of the ``count`` best candidates not in ``exclude``, best first; ties
        broken by item id so that lists are deterministic."""
        wanted = count + len(exclude)
        if wanted < len(self.items):
            # Partition first: sorting thousands of candidates for ten is wasted work.
            cut = np.argpartition(-self.scores, wanted)[: wanted + 1]
            threshold = self.scores[cut].min()
            pool = np.flatnonzero(self.scores >= threshold).tolist()
        else:
            pool = list(range(len(self.items)))
        pool.sort(key=lambda i: (-self.scores[i], self.items[i]))
        return [i for i in pool if self.items[i] not in exclude][:count]


def score_neighbours(
    history: Mapping[str, float],
    rows: Sequence[tuple[str, str, int, int]],
    users_of: Mapping[str, int],
    *,
    shrinkage: float = DEFAULT_SHRINKAGE,
) -> Scored:
    """Score candidates from co-occurrence ``rows`` of ``(a, b, c_ab, n_b)``.

    ``history`` maps the user's items to their weights; ``users_of`` gives ``n_a``
    for those items. Candidates are every ``b`` (the caller removes seen items).
    """
    if not rows:
        return Scored([], np.zeros(0, dtype=np.float64), [])
    # Column-wise with numpy, candidates numbered by a dict in row order: this runs on
    # every request over thousands of rows; a Python loop doing the arithmetic per row
    # cost ten times more, and np.unique over string arrays (sorting) three times more.
    sources_col, targets_col, counts_col, n_b_col = zip(*rows, strict=True)
    size = len(rows)
    # dict.fromkeys and map run in C: a generator calling setdefault per row cost 4x.
    names = list(dict.fromkeys(sources_col))
    source_of = np.fromiter(
        map(dict(zip(names, range(len(names)), strict=True)).__getitem__, sources_col),
        np.int64,
        size,
    )
    items = list(dict.fromkeys(targets_col))
    inverse = np.fromiter(
        map(dict(zip(items, range(len(items)), strict=True)).__getitem__, targets_col),
        np.int64,
        size,
    )
    counts = np.fromiter(counts_col, np.float64, size)
    n_b = np.fromiter(n_b_col, np.float64, size)
    weight = np.log1p(np.array([history.get(a, 0.0) for a in names], dtype=np.float64))
    n_a = np.array([users_of.get(a, 0) for a in names], dtype=np.float64)
    contribution = weight[source_of] * counts / (np.sqrt(n_a[source_of] * n_b) + shrinkage)
    scores = np.bincount(inverse, weights=contribution, minlength=len(items)).astype(np.float64)
    # The strongest contributor per candidate: sort by (candidate, contribution) and
    # keep the last row of each candidate's run.
    order = np.lexsort((contribution, inverse))
    last = np.ones(len(order), dtype=bool)
    last[:-1] = inverse[order][1:] != inverse[order][:-1]
    because = [names[i] for i in source_of[order[last]].tolist()]
    return Scored(items, scores, because)
