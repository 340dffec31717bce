"""Fixtures for the recommendation tests: an open store per backend."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from headwater.eventstore import EventStore, create_event_store


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[EventStore]:
    store = await create_event_store(store_url, migrate=True)
    try:
        yield store
    finally:
        await store.close()
