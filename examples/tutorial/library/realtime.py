"""Step 5: a realtime topic, ``library.shelf:all``: the tenant's shelf, pushed on change."""

from __future__ import annotations

from typing import Any

from headwater import EventStore
from headwater.realtime import TopicProvider

from library.domain import BookAdded, BookLent, BookReturned
from library.projections import list_books

TOPIC = "library.shelf"


def shelf_topic(store: EventStore) -> TopicProvider:
    async def fetch(tenant_id: str | None, key: str) -> Any:
        # Fetched at push time, for the follower's own tenant only.
        return {"books": await list_books(store, tenant_id or "")}

    return TopicProvider(
        kind=TOPIC,
        fetch=fetch,
        # Any of these events may change the shelf; ten in a second give one push.
        triggers=frozenset({BookAdded.event_type, BookLent.event_type, BookReturned.event_type}),
        key_of=lambda event: "all",
        interval=0.2,
    )
