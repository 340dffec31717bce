"""The hook, capabilities and helpers that every part of the event-store contract shares.

The contract itself is assembled in :mod:`headwater.testing._eventstore`; this module
holds what a backend's subclass may set or override, and the small helpers the
tests use to say what they mean.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import sys
from collections.abc import AsyncIterable, AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, TypeVar

import anyio
import pytest

from headwater.eventstore import EventStore, NewEvent, RecordedEvent, create_event_store

T = TypeVar("T")

#: Why a test is skipped when a backend declares it lacks a capability.
CAPABILITY_REASONS: dict[str, str] = {
    "shared_between_processes": (
        "a second store opened on the same URL, in this or another OS process, "
        "does not share its data, so other writers and nodes cannot be tested"
    ),
    "survives_restart": (
        "the store's contents end with the process that holds them, "
        "so durability across a kill and a reopen cannot be tested"
    ),
    "reads_bypass_open_transactions": (
        "the store has a single connection, so a read waits for (or, from the same "
        "task, is refused inside) an open write transaction"
    ),
}

#: The longest any single wait in the suite may take before the test fails instead of
#: hanging: a subscription that stops delivering, a worker that never exits.
WAIT_SECONDS = 10.0


class ContractBase:
    """What a backend's test class provides, and helpers for the tests.

    Provide the ``store_url`` fixture (an empty store per test). Override
    :meth:`open_store` when ``create_event_store`` cannot open your URL, and
    ``worker_opener`` so that child processes can open it too. Set a capability to
    ``False`` when the backend lacks it; only the tests that need it are skipped,
    each with the reason.
    """

    #: Another store opened on ``store_url`` (another node, another OS process) shares
    #: this one's data.
    shared_between_processes: ClassVar[bool] = True
    #: The store's contents outlive the process: a reopen after ``kill -9`` sees them.
    survives_restart: ClassVar[bool] = True
    #: Reads run on their own connections and never wait for an open transaction.
    reads_bypass_open_transactions: ClassVar[bool] = True
    #: ``module:function`` that child processes await as ``function(url)`` to open the
    #: store (the parent has already created the schema).
    worker_opener: ClassVar[str] = "headwater.eventstore:create_event_store"

    @pytest.fixture
    def store_url(self) -> str:
        """A URL naming a fresh, empty store. Every backend's subclass overrides this."""
        raise NotImplementedError(
            f"{type(self).__name__} must override the store_url fixture of EventStoreContract"
        )

    async def open_store(self, url: str) -> EventStore:
        """Open (and, where needed, migrate) the store at ``url``."""
        return await create_event_store(url, migrate=True)

    @pytest.fixture
    async def store(self, store_url: str) -> AsyncIterator[EventStore]:
        opened = await self.open_store(store_url)
        try:
            yield opened
        finally:
            await opened.close()

    async def rewind_log(self, store: EventStore, to: int) -> None:
        """Make the log end at ``to``, as a failover that lost commits or a restored older
        file leaves it: later appends get the lost positions again. A backend with
        other tables overrides this."""
        async with store.transaction() as tx:
            await tx.execute("DELETE FROM hw_events WHERE position > ?", (to,))
            if tx.dialect == "postgresql":
                await tx.execute("UPDATE hw_head SET position = ?", (to,))

    def require(self, capability: str) -> None:
        """Skip the running test, with the reason, when the backend lacks ``capability``."""
        if not getattr(self, capability):
            pytest.skip(
                f"{type(self).__name__} declares {capability} = False: "
                f"{CAPABILITY_REASONS[capability]}"
            )


# --- helpers ------------------------------------------------------------------------------


def new(type_: str = "Happened", metadata: dict[str, Any] | None = None, **data: Any) -> NewEvent:
    """A new event with ``data`` given as keywords."""
    return NewEvent(type_, data, metadata)


async def collect(events: AsyncIterable[T]) -> list[T]:
    with anyio.fail_after(WAIT_SECONDS):
        return [event async for event in events]


async def read_all(store: EventStore, **filters: Any) -> list[RecordedEvent]:
    return await collect(store.read_all(**filters))


async def read_stream(store: EventStore, stream_id: str, **options: Any) -> list[RecordedEvent]:
    return await collect(store.read_stream(stream_id, **options))


def versions(events: Sequence[RecordedEvent]) -> list[int]:
    return [event.version for event in events]


def positions(events: Sequence[RecordedEvent]) -> list[int]:
    return [event.position for event in events]


def streams(events: Sequence[RecordedEvent]) -> list[str]:
    return [event.stream_id for event in events]


def assert_strictly_increasing(values: Sequence[int]) -> None:
    assert all(a < b for a, b in itertools.pairwise(values)), values


def assert_recent_utc(moment: datetime | None) -> None:
    """Set by the store, timezone-aware, in UTC, and close to now."""
    assert moment is not None
    assert moment.tzinfo is not None
    assert moment.utcoffset() == timedelta(0)
    assert abs(datetime.now(UTC) - moment) < timedelta(seconds=30)


class StoreContents:
    """Everything a store holds, to show that a failed call changed nothing."""

    def __init__(self, store: EventStore) -> None:
        self.store = store
        self.before: list[RecordedEvent] = []
        self.head = 0

    async def take(self) -> StoreContents:
        self.before = await read_all(self.store)
        self.head = await self.store.head_position()
        return self

    async def assert_unchanged(self) -> None:
        assert await read_all(self.store) == self.before
        assert await self.store.head_position() == self.head


async def unchanged(store: EventStore) -> StoreContents:
    return await StoreContents(store).take()


@dataclass
class Subscriber:
    """Runs ``store.subscribe(...)`` in a task and keeps what it yields."""

    store: EventStore
    filters: dict[str, Any] = field(default_factory=dict)
    events: list[RecordedEvent] = field(default_factory=list)
    finished: bool = False
    _arrived: anyio.Event = field(default_factory=anyio.Event)

    async def run(self) -> None:
        try:
            async for event in self.store.subscribe(**self.filters):
                self.events.append(event)
                self._arrived.set()
                self._arrived = anyio.Event()
        finally:
            self.finished = True

    async def wait_for_count(self, count: int, within: float = WAIT_SECONDS) -> None:
        with anyio.fail_after(within):
            while len(self.events) < count:
                await self._arrived.wait()

    async def wait_for_position(self, position: int, within: float = WAIT_SECONDS) -> None:
        with anyio.fail_after(within):
            while not self.events or self.events[-1].position < position:
                await self._arrived.wait()

    async def assert_quiet(self, seconds: float = 0.2) -> None:
        """Nothing more arrives: no duplicate, nothing outside the filter."""
        count = len(self.events)
        await anyio.sleep(seconds)
        assert self.events[count:] == []


# --- child processes ----------------------------------------------------------------------


@dataclass
class Ack:
    """One append a child process saw acknowledged."""

    event_id: str
    stream_id: str
    version: int
    position: int


def parse_acks(output: bytes) -> list[Ack]:
    """Complete ``ack`` lines only: a line cut short by a kill was never acknowledged."""
    acks = []
    for line in output.decode().splitlines(keepends=True):
        if not line.endswith("\n"):
            break
        kind, *fields = line.split()
        if kind == "ack":
            acks.append(Ack(fields[0], fields[1], int(fields[2]), int(fields[3])))
    return acks


async def spawn_writer(
    url: str,
    opener: str,
    label: str,
    stream_ids: Sequence[str],
    *,
    gate: bool = False,
    **options: Any,
) -> asyncio.subprocess.Process:
    """Start ``python -m headwater.testing._writer``; see that module for the options.

    With ``gate`` the writer opens the store and waits for :func:`release_writers`.
    """
    args = ["--opener", opener, "--label", label, "--streams", json.dumps(list(stream_ids))]
    for name, value in options.items():
        args += [f"--{name.replace('_', '-')}", str(value)]
    if gate:
        args.append("--gate")
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "headwater.testing._writer",
        url,
        *args,
        stdin=asyncio.subprocess.PIPE if gate else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def release_writers(processes: Sequence[asyncio.subprocess.Process]) -> None:
    """Wait until every gated writer has its store open, then let them all go at once."""
    with anyio.fail_after(30):
        for process in processes:
            assert process.stdout is not None
            line = await process.stdout.readline()
            if line != b"ready\n":
                _, stderr = await process.communicate()
                raise AssertionError(f"writer did not start: {line!r} {stderr.decode()}")
    for process in processes:
        assert process.stdin is not None
        process.stdin.write(b"go\n")
        await process.stdin.drain()


async def finish_writer(process: asyncio.subprocess.Process) -> list[Ack]:
    """Wait for a writer to exit on its own; fail with its stderr if it did not succeed."""
    try:
        with anyio.fail_after(60):
            stdout, stderr = await process.communicate()
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    assert process.returncode == 0, stderr.decode()
    return parse_acks(stdout)
