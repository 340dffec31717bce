"""The event-store contract on SQLite: a file (WAL, durable) and ``:memory:``."""

from __future__ import annotations

from pathlib import Path

import pytest

from headwater.testing.eventstore import EventStoreContract


class TestSqliteFileStore(EventStoreContract):
    @pytest.fixture
    def store_url(self, tmp_path: Path) -> str:
        return f"sqlite:///{tmp_path / 'events.db'}"


class TestSqliteMemoryStore(EventStoreContract):
    # A :memory: database lives inside the process that opened it.
    shared_between_processes = False
    survives_restart = False
    reads_bypass_open_transactions = False

    @pytest.fixture
    def store_url(self) -> str:
        return "sqlite:///:memory:"
