"""A store with the security tables on every backend, and the Security service over it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from headwater.eventstore import EventStore, create_event_store
from headwater.identity._channels import ChannelRegistry
from headwater.security import _schema as schema
from headwater.security._service import Security
from tests.security.support import SECRET, security_config


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[EventStore]:
    opened = await create_event_store(store_url, migrate=True)
    await schema.migrate(opened)
    schema.attach(opened)
    try:
        yield opened
    finally:
        schema.detach(opened)
        await opened.close()


@pytest.fixture
def security(store: EventStore) -> Security:
    return Security(store, root_secret=SECRET, config=security_config(), channels=ChannelRegistry())
