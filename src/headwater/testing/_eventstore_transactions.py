"""Contract: checkpoints, consumer transactions, inline handlers, and the store's lifecycle."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import anyio
import anyio.lowlevel
import pytest

from headwater.errors import (
    ConcurrencyError,
    InlineHandlerFailed,
    InvalidInput,
    StoreUnavailable,
)
from headwater.eventstore import ANY, NO_STREAM, EventStore, RecordedEvent, Statement
from headwater.testing._eventstore_base import (
    WAIT_SECONDS,
    ContractBase,
    new,
    read_all,
    read_stream,
    unchanged,
)

CREATE_GUESTS = "CREATE TABLE rm_guests (id TEXT PRIMARY KEY, name TEXT NOT NULL)"
INSERT_GUEST = "INSERT INTO rm_guests (id, name) VALUES (?, ?)"
CREATE_COUNTS = "CREATE TABLE rm_counts (stream_id TEXT PRIMARY KEY, n INTEGER NOT NULL)"
UPSERT_COUNT = (
    "INSERT INTO rm_counts (stream_id, n) VALUES (?, ?) "
    "ON CONFLICT (stream_id) DO UPDATE SET n = rm_counts.n + excluded.n"
)


CREATE_SEEN = (
    "CREATE TABLE rm_seen (id TEXT PRIMARY KEY, stream_id TEXT NOT NULL, version INTEGER, "
    "position INTEGER, type TEXT, recorded_us BIGINT, tenant_id TEXT)"
)


def _record_seen(events: Sequence[RecordedEvent]) -> list[Statement]:
    """A handler that writes down every field of every event it is given."""
    return [
        Statement.executemany(
            "INSERT INTO rm_seen VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    str(e.id),
                    e.stream_id,
                    e.version,
                    e.position,
                    e.type,
                    int(e.recorded_at.timestamp() * 1_000_000),
                    e.tenant_id,
                )
                for e in events
            ],
        )
    ]


def _as_seen(events: Sequence[RecordedEvent]) -> list[tuple[Any, ...]]:
    return [
        (
            str(e.id),
            e.stream_id,
            e.version,
            e.position,
            e.type,
            int(e.recorded_at.timestamp() * 1_000_000),
            e.tenant_id,
        )
        for e in events
    ]


async def _seen(store: EventStore) -> list[tuple[Any, ...]]:
    async with store.transaction() as tx:
        rows = await tx.fetchall("SELECT * FROM rm_seen ORDER BY position")
    return [tuple(row) for row in rows]


@dataclass(frozen=True)
class _Note:
    """A callback that compares equal for the same stream, so it is registered once."""

    record: Callable[[str], None]
    stream_id: str

    def __call__(self) -> None:
        self.record(self.stream_id)


class Boom(Exception):
    """Raised on purpose by a test, to see what a failure leaves behind."""


async def _guests(store: EventStore) -> list[tuple[Any, ...]]:
    async with store.transaction() as tx:
        return await tx.fetchall("SELECT id, name FROM rm_guests ORDER BY id")


async def _counts(store: EventStore) -> list[tuple[Any, ...]]:
    async with store.transaction() as tx:
        return await tx.fetchall("SELECT stream_id, n FROM rm_counts ORDER BY stream_id")


def _count_appends(events: Sequence[RecordedEvent]) -> list[Statement]:
    if any(event.type == "Poison" for event in events):
        raise Boom(f"refusing {events[0].stream_id}")
    return [Statement(UPSERT_COUNT, (events[0].stream_id, len(events)))]


class TransactionContract(ContractBase):
    # --- checkpoints ----------------------------------------------------------------

    async def test_checkpoint_that_was_never_set_is_none(self, store: EventStore) -> None:
        assert await store.get_checkpoint("projection-a") is None

    async def test_set_checkpoint_is_read_back_and_moves(self, store: EventStore) -> None:
        await store.set_checkpoint("projection-a", 5)
        await store.set_checkpoint("projection-b", 0)
        assert await store.get_checkpoint("projection-a") == 5
        assert await store.get_checkpoint("projection-b") == 0
        await store.set_checkpoint("projection-a", 12)
        assert await store.get_checkpoint("projection-a") == 12
        assert await store.get_checkpoint("projection-b") == 0
        assert await store.get_checkpoint("projection-c") is None

    @pytest.mark.parametrize(
        ("name", "position"),
        [
            pytest.param("", 1, id="empty-name"),
            pytest.param(None, 1, id="none-name"),
            pytest.param("n" * 256, 1, id="long-name"),
            pytest.param("p", -1, id="negative"),
            pytest.param("p", True, id="bool"),
            pytest.param("p", 1.0, id="float"),
        ],
    )
    async def test_set_checkpoint_with_bad_input_raises_invalid_input(
        self, store: EventStore, name: Any, position: Any
    ) -> None:
        with pytest.raises(InvalidInput):
            await store.set_checkpoint(name, position)
        with pytest.raises(InvalidInput):
            await store.commit([], checkpoint=(name, position))
        assert await store.get_checkpoint("p") is None

    # --- consumer transactions ------------------------------------------------------

    async def test_transaction_commits_rows_and_checkpoint_together(
        self, store: EventStore
    ) -> None:
        async with store.transaction() as tx:
            assert tx.dialect == store.dialect
            await tx.execute(CREATE_GUESTS)
            assert await tx.execute(INSERT_GUEST, ("g1", "Ada")) == 1
            await tx.executemany(INSERT_GUEST, [("g2", "Bob"), ("g3", "Cy")])
            assert await tx.execute("UPDATE rm_guests SET name = name || '!'") == 3
            assert await tx.fetchone("SELECT name FROM rm_guests WHERE id = ?", ("g2",)) == (
                "Bob!",
            )
            assert await tx.fetchone("SELECT name FROM rm_guests WHERE id = ?", ("zz",)) is None
            await tx.set_checkpoint("guests", 3)
            assert await tx.get_checkpoint("guests") == 3

        assert await _guests(store) == [("g1", "Ada!"), ("g2", "Bob!"), ("g3", "Cy!")]
        assert await store.get_checkpoint("guests") == 3

    async def test_transaction_that_raises_keeps_neither_rows_nor_checkpoint(
        self, store: EventStore
    ) -> None:
        async with store.transaction() as tx:
            await tx.execute(CREATE_GUESTS)
            await tx.execute(INSERT_GUEST, ("g1", "Ada"))
            await tx.set_checkpoint("guests", 1)

        async def write_then_fail() -> None:
            async with store.transaction() as tx:
                await tx.execute(INSERT_GUEST, ("g2", "Bob"))
                await tx.execute("UPDATE rm_guests SET name = 'changed'")
                await tx.set_checkpoint("guests", 9)
                raise Boom

        with pytest.raises(Boom):
            await write_then_fail()

        assert await _guests(store) == [("g1", "Ada")]
        assert await store.get_checkpoint("guests") == 1

    async def test_cancelled_transaction_rolls_back_and_the_store_stays_usable(
        self, store: EventStore
    ) -> None:
        async with store.transaction() as tx:
            await tx.execute(CREATE_GUESTS)
        with anyio.move_on_after(0.2) as scope:
            async with store.transaction() as tx:
                await tx.execute(INSERT_GUEST, ("g1", "Ada"))
                await tx.set_checkpoint("guests", 1)
                await anyio.sleep(WAIT_SECONDS)
        assert scope.cancelled_caught

        with anyio.fail_after(WAIT_SECONDS):
            await store.append("s", [new()])
            assert await _guests(store) == []
            assert await store.get_checkpoint("guests") is None
            await store.commit([Statement(INSERT_GUEST, ("g2", "Bob"))])
        assert await _guests(store) == [("g2", "Bob")]

    async def test_read_only_queries_see_committed_rows_only_and_never_wait_for_a_writer(
        self, store: EventStore
    ) -> None:
        async with store.transaction() as tx:
            await tx.execute(CREATE_GUESTS)
            await tx.execute(INSERT_GUEST, ("g1", "Ada"))
        assert await store.fetchall("SELECT id, name FROM rm_guests") == [("g1", "Ada")]
        assert await store.fetchone("SELECT name FROM rm_guests WHERE id = ?", ("g1",)) == ("Ada",)
        assert await store.fetchone("SELECT name FROM rm_guests WHERE id = ?", ("zz",)) is None

        self.require("reads_bypass_open_transactions")
        with anyio.fail_after(WAIT_SECONDS):
            async with store.transaction() as tx:
                await tx.execute(INSERT_GUEST, ("g2", "Bob"))
                # A query from outside the open transaction neither waits for it nor
                # sees its uncommitted row.
                assert await store.fetchall("SELECT id FROM rm_guests") == [("g1",)]
        assert await store.fetchall("SELECT id FROM rm_guests ORDER BY id") == [("g1",), ("g2",)]

    async def test_read_only_query_with_bad_sql_raises_and_changes_nothing(
        self, store: EventStore
    ) -> None:
        with pytest.raises(InvalidInput):
            await store.fetchall("   ")
        with pytest.raises(Exception, match=r"(?i)syntax"):
            await store.fetchall("SELEC nonsense")

    async def test_a_transaction_cancelled_before_it_begins_leaves_the_store_usable(
        self, store: EventStore
    ) -> None:
        async def open_one() -> None:
            async with store.transaction():
                await anyio.sleep(10)

        for _ in range(10):
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(open_one)
                await anyio.lowlevel.checkpoint()  # the transaction is requested, not yet begun
                tasks.cancel_scope.cancel()
        with anyio.fail_after(WAIT_SECONDS):
            result = await store.append("s", [new()])
        assert result.version == 1

    async def test_other_tasks_can_append_and_read_while_a_transaction_is_open(
        self, store: EventStore
    ) -> None:
        await store.append("s", [new(n=1)])
        async with store.transaction() as tx:
            await tx.execute(CREATE_GUESTS)
        opened, appended = anyio.Event(), anyio.Event()
        seen: list[int] = []

        async def append_meanwhile() -> None:  # another task: a request, say
            await opened.wait()
            seen.extend(e.data["n"] for e in await read_all(store))
            await store.append("s", [new(n=2)], expected_version=1)
            appended.set()

        with anyio.fail_after(WAIT_SECONDS):
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(append_meanwhile)
                async with store.transaction() as tx:
                    await tx.execute(INSERT_GUEST, ("g1", "Ada"))
                    opened.set()
                    await anyio.sleep(0.05)
                    await tx.set_checkpoint("guests", 1)
                await appended.wait()
        assert seen == [1]
        assert [e.data["n"] for e in await read_stream(store, "s")] == [1, 2]
        assert await _guests(store) == [("g1", "Ada")]
        assert await store.get_checkpoint("guests") == 1

    async def test_task_started_inside_a_transaction_can_append_once_it_has_ended(
        self, store: EventStore
    ) -> None:
        ended = anyio.Event()

        async def append_later() -> int:
            await ended.wait()
            return (await store.append("s", [new()])).version

        async with store.transaction() as tx:
            await tx.set_checkpoint("spawner", 1)
            task = asyncio.create_task(append_later())  # e.g. a notification sent later
        ended.set()
        with anyio.fail_after(WAIT_SECONDS):
            assert await task == 1

    async def test_transaction_sql_uses_question_mark_placeholders_and_literal_percent(
        self, store: EventStore
    ) -> None:
        async with store.transaction() as tx:
            await tx.execute(CREATE_GUESTS)
            await tx.execute(INSERT_GUEST, ("100%", "what? 50% off"))
            rows = await tx.fetchall(
                "SELECT id, name FROM rm_guests WHERE name LIKE '%?%' AND id = ?", ("100%",)
            )
        assert rows == [("100%", "what? 50% off")]

    async def test_execute_script_runs_every_statement_inside_the_transaction(
        self, store: EventStore
    ) -> None:
        script = """
            -- a read model; its rows
            CREATE TABLE rm_a (id TEXT PRIMARY KEY);  -- trailing; comment
            CREATE TABLE rm_b (id TEXT PRIMARY KEY);
            INSERT INTO rm_a (id) VALUES ('x;y'); INSERT INTO rm_b (id) VALUES ('it''s 100%');
        """
        async with store.transaction() as tx:
            await tx.execute_script(script)
            await tx.set_checkpoint("script", 1)

        async def write_then_fail() -> None:
            async with store.transaction() as tx:
                await tx.execute_script(
                    "INSERT INTO rm_a (id) VALUES ('z');\nCREATE TABLE rm_c (id TEXT);"
                )
                await tx.set_checkpoint("script", 2)
                raise Boom

        with pytest.raises(Boom):
            await write_then_fail()

        async with store.transaction() as tx:
            assert await tx.fetchall("SELECT id FROM rm_a") == [("x;y",)]
            assert await tx.fetchall("SELECT id FROM rm_b") == [("it's 100%",)]
            await tx.execute_script("CREATE TABLE rm_c (id TEXT)")  # rm_c was rolled back
        assert await store.get_checkpoint("script") == 1

    async def test_commit_runs_statements_and_moves_the_checkpoint_together(
        self, store: EventStore
    ) -> None:
        async with store.transaction() as tx:
            await tx.execute(CREATE_GUESTS)

        await store.commit(
            [
                Statement(INSERT_GUEST, ("g1", "Ada")),
                Statement.executemany(INSERT_GUEST, [("g2", "Bob"), ("g3", "Cy")]),
            ],
            checkpoint=("guests", 7),
        )
        await store.commit([Statement("DELETE FROM rm_guests WHERE id = ?", ("g3",))])

        assert await _guests(store) == [("g1", "Ada"), ("g2", "Bob")]
        assert await store.get_checkpoint("guests") == 7

    async def test_commit_whose_statement_fails_keeps_neither_rows_nor_checkpoint(
        self, store: EventStore
    ) -> None:
        async with store.transaction() as tx:
            await tx.execute(CREATE_GUESTS)
        await store.commit([Statement(INSERT_GUEST, ("g1", "Ada"))], checkpoint=("guests", 1))

        with pytest.raises(Exception, match=r"(?i)unique|duplicate"):
            await store.commit(
                [
                    Statement(INSERT_GUEST, ("g2", "Bob")),
                    Statement("UPDATE rm_guests SET name = 'changed'"),
                    Statement(INSERT_GUEST, ("g1", "Again")),  # primary key taken
                ],
                checkpoint=("guests", 2),
            )

        assert await _guests(store) == [("g1", "Ada")]
        assert await store.get_checkpoint("guests") == 1

    # --- inline handlers ------------------------------------------------------------

    async def test_inline_handler_statements_commit_with_the_append(
        self, store: EventStore
    ) -> None:
        async with store.transaction() as tx:
            await tx.execute(CREATE_COUNTS)
            await tx.execute(CREATE_SEEN)
        store.add_inline_handler(_count_appends)
        store.add_inline_handler(_record_seen)
        await store.append("s1", [new(n=1), new(n=2)])
        await store.append("s2", [new(n=3)], tenant_id="acme")
        await store.append("s1", [new(n=4)])

        assert await _counts(store) == [("s1", 3), ("s2", 1)]
        # What the handler was given, as its committed rows show it: every field a
        # reader sees, the ones the store assigns on commit included.
        assert await _seen(store) == _as_seen(await read_all(store))
        assert [row[6] for row in await _seen(store)] == [None, None, "acme", None]

        store.remove_inline_handler(_count_appends)
        store.remove_inline_handler(_record_seen)
        await store.append("s1", [new(n=5)])
        assert await _counts(store) == [("s1", 3), ("s2", 1)]

    async def test_inline_handler_rows_commit_with_their_events_in_concurrent_groups(
        self, store: EventStore
    ) -> None:
        """Many appends at once, so that they share group commits: each append's handler
        rows carry exactly its events' positions, versions and times, whatever the
        group, and an append that fails (a stale version) leaves no handler row."""
        async with store.transaction() as tx:
            await tx.execute(CREATE_SEEN)
        store.add_inline_handler(_record_seen)
        await store.append("busy", [new(n=0)])

        async def client(index: int) -> None:
            for version in range(4):
                await store.append(
                    f"c-{index}", [new(n=version), new(n=-version)], expected_version=2 * version
                )

        outcomes = await asyncio.gather(
            *[client(i) for i in range(12)],
            *[store.append("busy", [new(n=i)], expected_version=ANY) for i in range(12)],
            *[store.append("busy", [new(n=99)], expected_version=0) for _ in range(3)],
            return_exceptions=True,
        )

        assert all(o is None or not isinstance(o, BaseException) for o in outcomes[:24])
        assert all(isinstance(o, ConcurrencyError) for o in outcomes[24:])
        stored = await read_all(store)
        assert len(stored) == 1 + 12 * 8 + 12
        assert await _seen(store) == _as_seen(stored)

    async def test_failing_inline_handler_fails_only_its_own_append(
        self, store: EventStore
    ) -> None:
        async with store.transaction() as tx:
            await tx.execute(CREATE_COUNTS)
        store.add_inline_handler(_count_appends)
        await store.append("bad", [new(n=0)])
        before = await read_stream(store, "bad")

        outcomes = await asyncio.gather(
            *[store.append(f"ok-{i}", [new(n=i)]) for i in range(5)],
            store.append("bad", [new(n=1), new("Poison")]),
            *[store.append(f"ok-{i}", [new(n=i)]) for i in range(5, 10)],
            return_exceptions=True,
        )

        assert isinstance(outcomes[5], Boom)
        assert [type(o).__name__ for o in outcomes[:5] + outcomes[6:]] == ["AppendResult"] * 10
        assert await read_stream(store, "bad") == before
        assert await _counts(store) == sorted([("bad", 1)] + [(f"ok-{i}", 1) for i in range(10)])
        assert len(await read_all(store)) == 11

    async def test_inline_statement_that_fails_in_a_group_fails_only_its_own_append(
        self, store: EventStore
    ) -> None:
        """The handler itself succeeds; the database refuses one append's statement
        (a CHECK) while concurrent appends share its group commit."""
        async with store.transaction() as tx:
            await tx.execute(
                "CREATE TABLE rm_counts (stream_id TEXT PRIMARY KEY, n INTEGER NOT NULL "
                "CHECK (n <= 2))"
            )
            await tx.execute(CREATE_SEEN)
        store.add_inline_handler(_count_appends)
        store.add_inline_handler(_record_seen)
        await store.append("full", [new(n=1), new(n=2)])
        before = await read_stream(store, "full")

        outcomes = await asyncio.gather(
            *[store.append(f"ok-{i}", [new(n=i)]) for i in range(6)],
            store.append("full", [new(n=3)]),
            *[store.append(f"ok-{i}", [new(n=i), new(n=-i)]) for i in range(6, 12)],
            return_exceptions=True,
        )

        assert isinstance(outcomes[6], InlineHandlerFailed)
        assert [type(o).__name__ for o in outcomes[:6] + outcomes[7:]] == ["AppendResult"] * 12
        assert await read_stream(store, "full") == before
        stored = await read_all(store)
        assert len(stored) == 2 + 6 + 12
        assert await _seen(store) == _as_seen(stored)
        assert (await _counts(store))[0] == ("full", 2)

    async def test_after_commit_callbacks_run_once_their_append_has_committed(
        self, store: EventStore
    ) -> None:
        async with store.transaction() as tx:
            await tx.execute(CREATE_COUNTS)
        calls: list[str] = []
        three = anyio.Event()

        def record(stream_id: str) -> None:
            calls.append(stream_id)
            if len(calls) == 3:
                three.set()

        def handler(events: Sequence[RecordedEvent]) -> list[Statement]:
            store.after_commit(_Note(record, events[0].stream_id))
            return _count_appends(events)

        store.add_inline_handler(handler)
        first = [new(n=1)]
        await store.append("a", first)
        await store.append("b", [new(n=2)])
        with pytest.raises(Boom):
            await store.append("c", [new("Poison")])
        with pytest.raises(ConcurrencyError):
            await store.append("a", [new(n=3)], expected_version=NO_STREAM)
        await store.append("a", first)  # a replay: stored already, nothing committed
        await store.append("d", [new(n=4)])

        with anyio.fail_after(WAIT_SECONDS):
            await three.wait()
        await anyio.sleep(0.05)  # nothing more arrives
        assert calls == ["a", "b", "d"]

    async def test_inline_handler_statement_that_fails_fails_the_append_and_writes_nothing(
        self, store: EventStore
    ) -> None:
        async with store.transaction() as tx:
            await tx.execute(
                "CREATE TABLE rm_counts (stream_id TEXT PRIMARY KEY, n INTEGER NOT NULL "
                "CHECK (n <= 2))"
            )
        store.add_inline_handler(_count_appends)
        await store.append("s", [new(n=1), new(n=2)])
        before = await unchanged(store)

        # A broken constraint is translated at the store's boundary, never a driver error.
        with pytest.raises(InlineHandlerFailed, match=r"(?i)check"):
            await store.append("s", [new(n=3)])

        await before.assert_unchanged()
        assert await _counts(store) == [("s", 2)]
        await store.append("t", [new(n=1)])
        assert await _counts(store) == [("s", 2), ("t", 1)]

    # --- lifecycle ------------------------------------------------------------------

    async def test_async_with_closes_the_store(self, store_url: str) -> None:
        async with await self.open_store(store_url) as opened:
            await opened.append("s", [new()], expected_version=NO_STREAM)
        with anyio.fail_after(WAIT_SECONDS), pytest.raises(StoreUnavailable):
            await opened.append("s", [new()])
        if self.survives_restart:
            async with await self.open_store(store_url) as reopened:
                assert await reopened.stream_version("s") == 1
                with pytest.raises(ConcurrencyError):
                    await reopened.append("s", [new()], expected_version=NO_STREAM)

    async def test_close_is_idempotent(self, store_url: str) -> None:
        opened = await self.open_store(store_url)
        await opened.append("s", [new()])
        with anyio.fail_after(WAIT_SECONDS):
            await opened.close()
            await opened.close()
            async with opened:
                pass

    async def test_failed_calls_leave_the_store_usable(self, store: EventStore) -> None:
        await store.append("s", [new()])
        with pytest.raises(ConcurrencyError):
            await store.append("s", [new()], expected_version=NO_STREAM)
        with pytest.raises(InvalidInput):
            await store.append("", [new()])
        before = await unchanged(store)
        await store.append("s", [new()], expected_version=1)
        assert len(await read_all(store)) == len(before.before) + 1
