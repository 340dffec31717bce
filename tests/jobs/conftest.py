"""Fixtures for the job tests: an open store and a migrated queue on each backend."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from headwater.eventstore import EventStore, create_event_store
from headwater.jobs import SqlJobQueue


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[EventStore]:
    store = await create_event_store(store_url, migrate=True)
    try:
        yield store
    finally:
        await store.close()


@pytest.fixture
async def queue(store: EventStore) -> SqlJobQueue:
    queue = SqlJobQueue(store)
    await queue.migrate()
    return queue
