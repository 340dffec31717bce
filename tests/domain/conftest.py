"""Fixtures for the write side: a store on every backend, a repository and a bus over it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from headwater.domain import CommandBus, Repository
from headwater.eventstore import EventStore, create_event_store
from tests.domain import model


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[EventStore]:
    opened = await create_event_store(store_url, migrate=True)
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
def repo(store: EventStore) -> Repository:
    return Repository(store)


@pytest.fixture
def bus(repo: Repository) -> CommandBus:
    return model.make_bus(repo)
