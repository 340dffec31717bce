"""The PostgreSQL group-commit writer: its deadline, what it does with a connection that
misses it, a close that finishes while the database does not answer, and inline
handlers sent with the batch instead of run under the lock.

A database that does not answer is made with a lock: another connection holds the
append lock (``hw_head``), so the writer's statement gets no reply for as long as the
test wants, exactly as if its link had gone silent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import anyio
import psycopg
import pytest

from headwater.errors import AppendIndeterminate, InvalidInput, StoreUnavailable
from headwater.eventstore import (
    EventStore,
    NewEvent,
    RecordedEvent,
    Statement,
    create_event_store,
)
from headwater.eventstore._factory import postgres_options
from headwater.eventstore._postgres import PostgresEventStore
from headwater.eventstore._postgres_writer import GroupCommitWriter

pytestmark = [pytest.mark.postgres, pytest.mark.anyio]

DEADLINE = 0.5
#: How much longer than its deadline a failed append or a close may take.
SLACK = 3.0


def _writer(store: EventStore) -> GroupCommitWriter:
    assert isinstance(store, PostgresEventStore)
    assert store._writer is not None
    return store._writer


def _closed(connection: psycopg.AsyncConnection[object]) -> bool:
    return connection.closed


@asynccontextmanager
async def _append_lock_held(url: str) -> AsyncIterator[None]:
    """Another connection holds the append lock: the writer's statement waits, unanswered."""
    conninfo, schema = postgres_options(url)
    conn = await psycopg.AsyncConnection.connect(conninfo, options=f"-c search_path={schema}")
    try:
        await conn.execute("SELECT position FROM hw_head FOR UPDATE")
        yield
    finally:
        await conn.rollback()
        await conn.close()


@pytest.fixture
async def store(postgres_url: str) -> AsyncIterator[EventStore]:
    opened = await create_event_store(postgres_url, migrate=True, append_timeout=DEADLINE)
    try:
        yield opened
    finally:
        await opened.close()


async def test_append_that_misses_its_deadline_is_indeterminate_and_its_connection_closed(
    store: EventStore, postgres_url: str
) -> None:
    await store.append("warm", [NewEvent("Happened", {})])
    connection = _writer(store)._conn
    assert connection is not None
    assert not _closed(connection)
    events = [NewEvent("Happened", {"n": 1}), NewEvent("Happened", {"n": 2})]

    async with _append_lock_held(postgres_url):
        started = time.monotonic()
        with pytest.raises(AppendIndeterminate) as caught:
            await store.append("s", events)
        assert DEADLINE <= time.monotonic() - started < DEADLINE + SLACK
        assert caught.value.stream_id == "s"
        assert _closed(connection)  # discarded, never used again
        assert _writer(store)._conn is not connection

    # The first attempt may or may not have committed after all: the retry with the
    # same event ids is safe either way, and the events are stored once.
    with anyio.fail_after(DEADLINE + SLACK):
        result = await store.append("s", events)
    assert result.version == 2
    stored = [e async for e in store.read_stream("s")]
    assert [e.id for e in stored] == [e.id for e in events]
    await store.append("after", [NewEvent("Happened", {})])


async def test_close_finishes_while_the_writer_gets_no_answer(
    store: EventStore, postgres_url: str
) -> None:
    await store.append("warm", [NewEvent("Happened", {})])
    async with _append_lock_held(postgres_url), anyio.create_task_group() as group:
        outcomes: list[BaseException | None] = []

        async def append(n: int) -> None:
            try:
                await store.append(f"s-{n}", [NewEvent("Happened", {"n": n})])
                outcomes.append(None)
            except StoreUnavailable as exc:
                outcomes.append(exc)

        for n in range(5):
            group.start_soon(append, n)
        await anyio.sleep(0.1)  # the first batch is in flight, the rest may queue
        started = time.monotonic()
        await store.close()
        assert time.monotonic() - started < DEADLINE + SLACK
    assert len(outcomes) == 5
    assert all(isinstance(o, StoreUnavailable) for o in outcomes)


async def test_a_writer_connection_killed_by_the_server_is_replaced(
    store: EventStore, postgres_url: str
) -> None:
    await store.append("warm", [NewEvent("Happened", {})])
    connection = _writer(store)._conn
    assert connection is not None
    pid = connection.info.backend_pid
    conninfo, _schema = postgres_options(postgres_url)
    async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as admin:
        await admin.execute("SELECT pg_terminate_backend(%s)", (pid,))

    with anyio.fail_after(DEADLINE + SLACK):
        # The write that finds the connection dead may fail; the next one reconnects.
        with contextlib.suppress(StoreUnavailable):
            await store.append("s", [NewEvent("Happened", {})])
        await store.append("t", [NewEvent("Happened", {})])
    assert await store.stream_version("t") == 1


async def test_append_timeout_must_be_a_positive_number(postgres_url: str) -> None:
    for bad in (0, -1.0, float("inf"), "5", True):
        with pytest.raises(InvalidInput, match="append_timeout"):
            await create_event_store(postgres_url, migrate=True, append_timeout=bad)  # type: ignore[arg-type]


# --- inline handlers: sent with the batch ----------------------------------------------


CREATE_LOG = (
    "CREATE TABLE rm_log (id TEXT PRIMARY KEY, position BIGINT, version BIGINT, "
    "recorded TIMESTAMPTZ, recorded_us BIGINT, doubled BIGINT, note TEXT)"
)


def _log_with_derived_values(events: Sequence[RecordedEvent]) -> list[Statement]:
    # `doubled` is derived from the position in a way no slot stands for.
    return [
        Statement(
            "INSERT INTO rm_log VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                str(e.id),
                e.position,
                e.version,
                e.recorded_at,
                int(e.recorded_at.timestamp() * 1_000_000),
                2 * e.position if e.data.get("derived") else None,
                "it's 100% ?",
            ),
        )
        for e in events
    ]


async def _log(store: EventStore) -> list[tuple[object, ...]]:
    rows = await store.fetchall("SELECT * FROM rm_log ORDER BY position")
    return [tuple(row) for row in rows]


async def test_handler_values_from_the_log_are_filled_in_by_the_server(
    store: EventStore, postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="headwater.eventstore._postgres_writer")
    async with store.transaction() as tx:
        await tx.execute(CREATE_LOG)
    store.add_inline_handler(_log_with_derived_values)
    await store.append("a", [NewEvent("Happened", {}), NewEvent("Happened", {})])
    # Another node's append moves the head: this writer's stand-ins are now wrong.
    other = await create_event_store(postgres_url)
    try:
        await other.append("elsewhere", [NewEvent("Happened", {}) for _ in range(3)])
    finally:
        await other.close()
    await store.append("b", [NewEvent("Happened", {})], expected_version=0)
    # A value derived from the position in a way no slot stands for: the slow path.
    await store.append("c", [NewEvent("Happened", {"derived": True})])

    stored = [e async for e in store.read_all()]
    expected = [
        (
            str(e.id),
            e.position,
            e.version,
            e.recorded_at,
            int(e.recorded_at.timestamp() * 1_000_000),
            2 * e.position if e.data.get("derived") else None,
            "it's 100% ?",
        )
        for e in stored
        if e.stream_id != "elsewhere"
    ]
    assert await _log(store) == expected
    slow = [r.getMessage() for r in caplog.records if "slow path" in r.getMessage()]
    assert len(slow) == 1
    assert "'c'" in slow[0]


async def test_an_append_prepared_before_a_handler_swap_is_prepared_again(
    store: EventStore, postgres_url: str
) -> None:
    """What a projection rebuild does: it pauses appends (bumping the handlers epoch),
    attaches the new handler, commits. An append prepared before the attach and sent
    meanwhile must not commit without the new handler's rows."""
    async with store.transaction() as tx:
        await tx.execute(CREATE_LOG)
    await store.append("warm", [NewEvent("Happened", {})])
    conninfo, schema = postgres_options(postgres_url)
    swap = await psycopg.AsyncConnection.connect(conninfo, options=f"-c search_path={schema}")
    try:
        await swap.execute("UPDATE hw_head SET handlers_epoch = handlers_epoch + 1")
        pending = asyncio.ensure_future(store.append("s", [NewEvent("Happened", {})]))
        await asyncio.sleep(0.1)  # prepared without the handler, sent, waiting for the lock
        assert not pending.done()
        store.add_inline_handler(_log_with_derived_values)
        await swap.commit()
        with anyio.fail_after(DEADLINE + SLACK):
            await pending
    finally:
        await swap.close()

    stored = [e async for e in store.read_stream("s")]
    assert [row[0] for row in await _log(store)] == [str(stored[0].id)]
