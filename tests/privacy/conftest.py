"""A store on every backend with the privacy tables, its keys, cipher, eraser and repository."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from headwater.domain import Repository, default_registry
from headwater.eventstore import EventStore, create_event_store
from headwater.privacy import Eraser, PersonalDataCipher, SubjectKeys


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[EventStore]:
    opened = await create_event_store(store_url, migrate=True)
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
async def keys(store: EventStore) -> SubjectKeys:
    keys = SubjectKeys(store)
    await keys.migrate()
    return keys


@pytest.fixture
def cipher(keys: SubjectKeys) -> PersonalDataCipher:
    return PersonalDataCipher(default_registry, keys)


@pytest.fixture
def repo(store: EventStore, cipher: PersonalDataCipher) -> Repository:
    return Repository(store, cipher=cipher)


@pytest.fixture
def eraser(store: EventStore, keys: SubjectKeys) -> Eraser:
    return Eraser(store, keys)
