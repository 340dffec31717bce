"""``Recommender``: ranked items for a user, with a reason per item, cached.

Answering, in order: the user's latest items (up to ``history_limit``) vote for
their co-occurring neighbours (``scoring.py``); seen, hidden, unavailable and
filtered-out items are dropped; one item per group is kept (no near-duplicates in a
list); popular items fill what is left. A user or item with no co-occurrence yet (cold)
gets the popular items. ``Recommendations.model`` says which model answered.

Answers are cached per (tenant, user, k, context), tagged with the read-model
tables; the projection runner invalidates the tags on every commit, so a new
interaction is reflected on the next call.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Final, Literal

import numpy as np
import numpy.typing as npt

from headwater.cache import FREQUENT, Cache, read_model_tag
from headwater.errors import InvalidInput
from headwater.eventstore._protocol import EventStore
from headwater.recommendations._als import ALS_TABLES, AlsModel
from headwater.recommendations._events import MAX_LIST, check_id
from headwater.recommendations._projection import DEFAULT_NEIGHBOURS, DEFAULT_WINDOW
from headwater.recommendations._reader import CatalogueEntry, ItemItemReader
from headwater.recommendations._scoring import DEFAULT_SHRINKAGE, Scored, score_neighbours
from headwater.recommendations._tables import ITEM_ITEM_TABLES

MAX_K: Final = 100
#: Liked categories raise a candidate's score by this factor (a nudge, not a filter).
CATEGORY_BOOST: Final = 1.25
#: Which model a tenant's answers come from; "blend" averages both, each scaled to 1.
ModelChoice = Literal["item_item", "als", "blend"]
ModelName = Literal["item_item", "als", "blend", "popularity"]


@dataclass(frozen=True, slots=True)
class Context:
    """Filters for one request: only these categories, never these items, and
    ``similar_to`` an item (an item page) instead of the user's history."""

    categories: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    similar_to: str | None = None

    def check(self) -> Context:
        for name, values in (("categories", self.categories), ("exclude", self.exclude)):
            if len(values) > MAX_LIST:
                raise InvalidInput(f"{name} holds at most {MAX_LIST} entries")
            for value in values:
                check_id(value, name)
        if self.similar_to is not None:
            check_id(self.similar_to, "similar_to")
        return self

    def key(self) -> str:
        return "|".join(
            [
                ",".join(sorted(self.categories)),
                ",".join(sorted(self.exclude)),
                self.similar_to or "",
            ]
        )


@dataclass(frozen=True, slots=True)
class Recommendation:
    item_id: str
    score: float
    title: str
    #: Why: "because you liked Heat", or "popular right now".
    reason: str
    #: The history item behind the reason (None for popular fill-ins).
    because_item_id: str | None = None


@dataclass(frozen=True, slots=True)
class Recommendations:
    user_id: str
    model: ModelName
    items: list[Recommendation] = field(default_factory=list)

    def to_data(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Recommendations:
        return cls(data["user_id"], data["model"], [Recommendation(**i) for i in data["items"]])


class Recommender:
    def __init__(
        self,
        store: EventStore,
        *,
        cache: Cache | None = None,
        history_limit: int = DEFAULT_WINDOW,
        neighbours: int = DEFAULT_NEIGHBOURS,
        shrinkage: float = DEFAULT_SHRINKAGE,
        als: AlsModel | None = None,
        models: Mapping[str, ModelChoice] | None = None,
        default_model: ModelChoice = "item_item",
    ) -> None:
        """``models`` chooses the model per tenant (``""`` for no tenant); tenants not
        listed get ``default_model``. ALS needs ``als``; without a trained run for the
        tenant, or for a user newer than the run, the item-item model answers."""
        self.reader = ItemItemReader(store)
        self.als = als
        self.models = dict(models or {})
        self.default_model: ModelChoice = default_model
        self.cache = cache
        self.history_limit = history_limit
        #: Neighbours read per history item: the projection's ``neighbours``.
        self.neighbours = neighbours
        self.shrinkage = shrinkage
        self._tags = tuple(read_model_tag(t.name) for t in (*ITEM_ITEM_TABLES, *ALS_TABLES))

    async def recommend(
        self,
        user_id: str,
        *,
        k: int = 10,
        context: Context | None = None,
        tenant_id: str | None = None,
    ) -> Recommendations:
        check_id(user_id, "user_id")
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_K:
            raise InvalidInput(f"k must be an integer from 1 to {MAX_K}")
        context = (context or Context()).check()
        tenant = tenant_id or ""
        if self.cache is None:
            return await self._compute(tenant, user_id, k, context)

        async def compute() -> dict[str, Any]:
            return (await self._compute(tenant, user_id, k, context)).to_data()

        data = await self.cache.get_or_compute(
            f"recommendations:{user_id}:{k}:{context.key()}",
            compute,
            policy=FREQUENT,
            tags=self._tags,
            tenant=tenant or "-",
        )
        return Recommendations.from_data(data)

    async def _compute(self, tenant: str, user: str, k: int, context: Context) -> Recommendations:
        reader = self.reader
        full_history = await reader.history(tenant, user)
        seen = {item for item, _ in full_history}
        hidden, liked = await reader.preferences(tenant, user)
        if context.similar_to is not None:
            history = {context.similar_to: 1.0}
            seen.add(context.similar_to)
        else:
            history = dict(full_history[: self.history_limit])
        exclude = seen | hidden | set(context.exclude)
        sources = list(history)
        rows = await reader.neighbours(tenant, sources, self.neighbours)
        users_of = await reader.users_of(tenant, sources)
        scored = score_neighbours(history, rows, users_of, shrinkage=self.shrinkage)
        answered: ModelName = "item_item"
        choice = self.models.get(tenant, self.default_model)
        if choice != "item_item" and self.als is not None and context.similar_to is None:
            factored = await self.als.scores(tenant, user)
            if factored is not None:
                scored = _with_factors(scored, factored, list(history), choice)
                answered = choice

        titles = await reader.catalogue(tenant, sources)
        picked: list[Recommendation] = []
        groups: set[str] = set()
        # Candidates come in widening rounds: most requests are served by the first
        # ~4k, and filters that reject many candidates simply ask for more.
        wanted = 4 * k
        offset = 0
        ranked: list[int] = []
        while len(picked) < k:
            ranked = scored.top(wanted, exclude)
            batch = ranked[offset:]
            if not batch:
                break
            ids = [scored.items[i] for i in batch]
            entries = await reader.catalogue(tenant, ids)
            boosted = sorted(
                batch,
                key=lambda i: (
                    -self._boost(float(scored.scores[i]), entries, scored.items[i], liked),
                    scored.items[i],
                ),
            )
            for i in boosted:
                item = scored.items[i]
                entry = entries.get(item)
                if not self._admit(item, entry, context, groups):
                    continue
                source = scored.because[i]
                source_title = _title(source, titles.get(source))
                picked.append(
                    Recommendation(
                        item,
                        float(scored.scores[i]),
                        _title(item, entry),
                        f"because you liked {source_title}"
                        if context.similar_to is None
                        else f"often chosen with {source_title}",
                        source,
                    )
                )
                if len(picked) == k:
                    break
            if len(ranked) < wanted:
                break
            offset, wanted = len(ranked), wanted * 4
        model: ModelName = answered if picked else "popularity"
        if len(picked) < k:
            await self._fill_popular(tenant, k, exclude, context, groups, picked)
        return Recommendations(user, model, picked)

    @staticmethod
    def _boost(
        score: float, entries: dict[str, CatalogueEntry], item: str, liked: set[str]
    ) -> float:
        entry = entries.get(item)
        if liked and entry is not None and liked.intersection(entry.categories):
            return score * CATEGORY_BOOST
        return score

    @staticmethod
    def _admit(item: str, entry: CatalogueEntry | None, context: Context, groups: set[str]) -> bool:
        """Business filters and diversity: available, in the asked categories, and not
        a near-duplicate (same group) of an item already in the list."""
        if entry is not None and not entry.available:
            return False
        if context.categories and (
            entry is None or not set(context.categories).intersection(entry.categories)
        ):
            return False
        group = entry.group if entry is not None else item
        if group in groups:
            return False
        groups.add(group)
        return True

    async def _fill_popular(
        self,
        tenant: str,
        k: int,
        exclude: set[str],
        context: Context,
        groups: set[str],
        picked: list[Recommendation],
    ) -> None:
        chosen = {r.item_id for r in picked}
        limit = 4 * k + len(exclude)
        while True:
            popular = await self.reader.popular(tenant, limit)
            ids = [i for i, _ in popular if i not in exclude and i not in chosen]
            entries = await self.reader.catalogue(tenant, ids)
            users = dict(popular)
            for item in ids:
                entry = entries.get(item)
                if not self._admit(item, entry, context, groups):
                    continue
                chosen.add(item)
                picked.append(
                    Recommendation(
                        item, float(users[item]), _title(item, entry), "popular right now"
                    )
                )
                if len(picked) == k:
                    return
            if len(popular) < limit:
                return
            limit *= 4


def _with_factors(
    scored: Scored,
    factored: tuple[list[str], npt.NDArray[np.float32], npt.NDArray[np.float32]],
    history: list[str],
    choice: ModelChoice,
) -> Scored:
    """ALS scores (or the blend of both), with the history item whose factors are
    closest to each candidate's as its reason."""
    items, matrix, als_scores = factored
    index = {item: n for n, item in enumerate(items)}
    scores = np.maximum(als_scores.astype(np.float64), 0.0)
    if choice == "blend":
        scores = scores / (scores.max() or 1.0)
        mine = dict(zip(scored.items, scored.scores.tolist(), strict=True))
        top = max(mine.values(), default=0.0) or 1.0
        extra = [i for i in scored.items if i not in index]
        items = [*items, *extra]
        scores = np.concatenate([scores, np.zeros(len(extra))]) / 2
        for n, item in enumerate(items):
            if item in mine:
                scores[n] += mine[item] / top / 2
    names = [h for h in history if h in index]
    fallback = dict(zip(scored.items, scored.because, strict=True))
    if names:
        sources = matrix[[index[h] for h in names]]
        # Closest by cosine in factor space: one matrix product for every candidate.
        closeness = (matrix @ sources.T) / (np.linalg.norm(sources, axis=1) + 1e-9)
        nearest = np.argmax(closeness, axis=1).tolist()
    because = [
        names[nearest[index[item]]] if names and item in index else fallback.get(item, "")
        for item in items
    ]
    return Scored(items, scores, because)


def _title(item: str, entry: CatalogueEntry | None) -> str:
    return entry.title if entry is not None and entry.title else item


def context_from(
    categories: Sequence[str] = (), exclude: Sequence[str] = (), similar_to: str | None = None
) -> Context:
    return Context(tuple(categories), tuple(exclude), similar_to).check()
