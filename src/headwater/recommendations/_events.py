"""The recommendation events: interactions, preferences and the item catalogue.

Everything a recommender learns is an event in the log, so every model (the
item-item projection, the ALS job) can be rebuilt from it. Event ids derive from the
caller's idempotency key: a retried ``track`` appends nothing new.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from headwater.errors import InvalidInput
from headwater.eventstore._records import NewEvent

INTERACTION_RECORDED: Final = "recommendations.interaction_recorded"
PREFERENCES_UPDATED: Final = "recommendations.preferences_updated"
ITEM_DESCRIBED: Final = "recommendations.item_described"

#: Default weight per action; a caller may pass its own weight (a 4.5-star rating).
ACTION_WEIGHTS: Final[Mapping[str, float]] = {
    "view": 1.0,
    "click": 1.0,
    "like": 3.0,
    "rate": 3.0,
    "add_to_cart": 4.0,
    "purchase": 5.0,
    "use": 2.0,
}
MAX_WEIGHT: Final = 1000.0
MAX_ID_LENGTH: Final = 200
MAX_LIST: Final = 100

# A fixed namespace: the same (tenant, key) gives the same event id on every node.
_ID_NAMESPACE: Final = uuid.UUID("6f0c8a52-27b1-4d3e-9d35-1b7c1b0a9e19")


def check_id(value: object, what: str) -> str:
    if not isinstance(value, str) or not value or len(value) > MAX_ID_LENGTH:
        raise InvalidInput(f"{what} must be a string of 1 to {MAX_ID_LENGTH} characters")
    if not value.isprintable():
        raise InvalidInput(f"{what} must not contain control characters")
    return value


def event_id(tenant_id: str | None, kind: str, key: str | None) -> uuid.UUID:
    """The id of an event: derived from ``key`` when given (idempotent), else random."""
    if key is None:
        return uuid.uuid4()
    return uuid.uuid5(_ID_NAMESPACE, f"{tenant_id or ''}\x00{kind}\x00{check_id(key, 'key')}")


# Stream ids are unique across tenants (the store refuses a stream of another
# tenant), so the tenant is part of each id.
def user_stream(tenant_id: str | None, user_id: str) -> str:
    return f"recommendations-{tenant_id or '-'}-user-{user_id}"


def item_stream(tenant_id: str | None, item_id: str) -> str:
    return f"recommendations-{tenant_id or '-'}-item-{item_id}"


@dataclass(frozen=True, slots=True)
class Interaction:
    """One user acting on one item. ``weight`` defaults to the action's weight."""

    user_id: str
    item_id: str
    action: str = "view"
    weight: float | None = None

    def resolved_weight(self) -> float:
        weight = self.weight if self.weight is not None else ACTION_WEIGHTS.get(self.action)
        if weight is None:
            raise InvalidInput(
                f"action {self.action!r} has no default weight: pass a weight "
                f"(known actions: {', '.join(sorted(ACTION_WEIGHTS))})"
            )
        if isinstance(weight, bool) or not isinstance(weight, (int, float)):
            raise InvalidInput("weight must be a number")
        weight = float(weight)
        if not math.isfinite(weight) or not 0 < weight <= MAX_WEIGHT:
            raise InvalidInput(f"weight must be above 0 and at most {MAX_WEIGHT:g}")
        return weight

    def to_event(self, tenant_id: str | None, key: str | None) -> NewEvent:
        check_id(self.user_id, "user_id")
        check_id(self.item_id, "item_id")
        check_id(self.action, "action")
        data = {
            "user_id": self.user_id,
            "item_id": self.item_id,
            "action": self.action,
            "weight": self.resolved_weight(),
        }
        return NewEvent(INTERACTION_RECORDED, data, id=event_id(tenant_id, "interaction", key))


@dataclass(frozen=True, slots=True)
class Preferences:
    """What a user told us: items never to show, categories they like."""

    hidden_items: tuple[str, ...] = ()
    liked_categories: tuple[str, ...] = ()

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> Preferences:
        return cls(tuple(data.get("hidden_items", ())), tuple(data.get("liked_categories", ())))

    def to_data(self) -> dict[str, Any]:
        for name, values in (
            ("hidden_items", self.hidden_items),
            ("liked_categories", self.liked_categories),
        ):
            if len(values) > MAX_LIST:
                raise InvalidInput(f"{name} holds at most {MAX_LIST} entries")
            for value in values:
                check_id(value, name)
        return {
            "hidden_items": sorted(set(self.hidden_items)),
            "liked_categories": sorted(set(self.liked_categories)),
        }


@dataclass(frozen=True, slots=True)
class Item:
    """A catalogue entry. Items sharing a ``group`` are near-duplicates (editions of one
    film, copies of one template): a list shows at most one of them."""

    item_id: str
    title: str = ""
    available: bool = True
    group: str | None = None
    categories: tuple[str, ...] = ()

    def to_data(self) -> dict[str, Any]:
        check_id(self.item_id, "item_id")
        if not isinstance(self.title, str) or len(self.title) > 500:
            raise InvalidInput("title must be a string of at most 500 characters")
        if self.group is not None:
            check_id(self.group, "group")
        if len(self.categories) > MAX_LIST:
            raise InvalidInput(f"categories holds at most {MAX_LIST} entries")
        for category in self.categories:
            check_id(category, "category")
        return {
            "item_id": self.item_id,
            "title": self.title,
            "available": bool(self.available),
            "group": self.group or self.item_id,
            "categories": sorted(set(self.categories)),
        }
