"""The event-store contract on SQLite: a file (WAL, durable) and ``:memory:``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from headwater.testing._eventstore import EventStoreContract


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


CLOSE_WHILE_WATCHING = """
import asyncio, sys
import headwater.eventstore._sqlite as backend
from headwater import create_event_store
backend.CROSS_PROCESS_POLL_SECONDS = 0  # a data_version check is nearly always running

async def main() -> None:
    for i in range(150):
        store = await create_event_store(f"sqlite:///{sys.argv[1]}/w{i % 3}.db")
        async def follow() -> None:
            async for _ in store.subscribe():
                pass
        task = asyncio.create_task(follow())
        await asyncio.sleep(0.002)
        await store.close()
        task.cancel()

asyncio.run(main())
"""


def test_closing_a_store_while_it_watches_other_processes_does_not_crash(tmp_path: Path) -> None:
    # Closing the watcher's connection while a worker thread was still querying it
    # crashed the interpreter (SIGSEGV); run it in a child so a crash fails one test.
    done = subprocess.run(
        [sys.executable, "-c", CLOSE_WHILE_WATCHING, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, f"exit {done.returncode}: {done.stderr[-2000:]}"
