"""Recording what users do: interactions, preferences and catalogue entries, as events.

Each call appends to the event store in the caller's tenant; with an idempotency
``key`` a retried call writes nothing new (the event id derives from the key).
"""

from __future__ import annotations

from collections.abc import Sequence

from headwater.eventstore._protocol import EventStore
from headwater.eventstore._records import NewEvent
from headwater.recommendations._events import (
    ITEM_DESCRIBED,
    PREFERENCES_UPDATED,
    Interaction,
    Item,
    Preferences,
    check_id,
    event_id,
    item_stream,
    user_stream,
)


class InteractionTracker:
    def __init__(self, store: EventStore) -> None:
        self.store = store

    async def track(
        self, interaction: Interaction, *, tenant_id: str | None = None, key: str | None = None
    ) -> int:
        """Record one interaction; returns its position in the log."""
        event = interaction.to_event(tenant_id, key)
        result = await self.store.append(
            user_stream(tenant_id, interaction.user_id), [event], tenant_id=tenant_id
        )
        return result.last_position

    async def track_many(
        self, interactions: Sequence[Interaction], *, tenant_id: str | None = None
    ) -> None:
        """Record a batch (imports, benchmarks): one append per user, in order."""
        by_user: dict[str, list[NewEvent]] = {}
        for interaction in interactions:
            by_user.setdefault(interaction.user_id, []).append(
                interaction.to_event(tenant_id, None)
            )
        for user, events in by_user.items():
            await self.store.append(user_stream(tenant_id, user), events, tenant_id=tenant_id)

    async def update_preferences(
        self,
        user_id: str,
        preferences: Preferences,
        *,
        tenant_id: str | None = None,
        key: str | None = None,
    ) -> None:
        data = {"user_id": check_id(user_id, "user_id"), **preferences.to_data()}
        event = NewEvent(PREFERENCES_UPDATED, data, id=event_id(tenant_id, "preferences", key))
        await self.store.append(user_stream(tenant_id, user_id), [event], tenant_id=tenant_id)

    async def describe_item(
        self, item: Item, *, tenant_id: str | None = None, key: str | None = None
    ) -> None:
        event = NewEvent(ITEM_DESCRIBED, item.to_data(), id=event_id(tenant_id, "item", key))
        await self.store.append(item_stream(tenant_id, item.item_id), [event], tenant_id=tenant_id)
