"""The event-store contract on PostgreSQL, in a fresh schema per test."""

from __future__ import annotations

import pytest

from headwater.testing._eventstore import EventStoreContract

pytestmark = pytest.mark.postgres


class TestPostgresStore(EventStoreContract):
    @pytest.fixture
    def store_url(self, postgres_url: str) -> str:
        return postgres_url
