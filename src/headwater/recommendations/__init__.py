"""Recommendations that learn from the log: interactions as events, an item-item
model kept current by a projection, a cached recommender with reasons.

::

    tracker = InteractionTracker(store)
    await tracker.track(Interaction("ann", "heat", "like"), tenant_id="acme", key="req-1")
    async with ProjectionRunner(store, item_item_projection()) as runner: ...
    answer = await Recommender(store, cache=cache).recommend("ann", k=10, tenant_id="acme")
    answer.model, [(r.item_id, r.reason) for r in answer.items]

The HTTP API and the node wiring live in ``headwater.recommendations._module`` (and
``routes``), the only modules here that know the web layer; nothing imported from
this package's top level does: ``RecommendationsModule`` is loaded when first read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from headwater import _lazy
from headwater.recommendations._events import (
    ACTION_WEIGHTS,
    INTERACTION_RECORDED,
    ITEM_DESCRIBED,
    PREFERENCES_UPDATED,
    Interaction,
    Item,
    Preferences,
)
from headwater.recommendations._metrics import RankingMetrics, evaluate, ndcg_at_k, precision_at_k
from headwater.recommendations._model import ItemItemModel, batch_counts, batch_neighbours
from headwater.recommendations._projection import (
    DEFAULT_NEIGHBOURS,
    DEFAULT_WINDOW,
    item_item_projection,
)
from headwater.recommendations._recommender import (
    Context,
    Recommendation,
    Recommendations,
    Recommender,
)
from headwater.recommendations._tracker import InteractionTracker

if TYPE_CHECKING:
    from headwater.recommendations._module import RecommendationsModule

#: Loaded on first read (``headwater._lazy``): the one name here that needs the web layer.
_EXPORTS: Final[dict[str, str]] = {
    "RecommendationsModule": "headwater.recommendations._module",
}

__all__ = [
    "ACTION_WEIGHTS",
    "DEFAULT_NEIGHBOURS",
    "DEFAULT_WINDOW",
    "INTERACTION_RECORDED",
    "ITEM_DESCRIBED",
    "PREFERENCES_UPDATED",
    "Context",
    "Interaction",
    "InteractionTracker",
    "Item",
    "ItemItemModel",
    "Preferences",
    "RankingMetrics",
    "Recommendation",
    "Recommendations",
    "RecommendationsModule",
    "Recommender",
    "batch_counts",
    "batch_neighbours",
    "evaluate",
    "item_item_projection",
    "ndcg_at_k",
    "precision_at_k",
]


def __getattr__(name: str) -> Any:
    return _lazy.load(__name__, _EXPORTS, name)


def __dir__() -> list[str]:
    return _lazy.names(__name__, _EXPORTS)
