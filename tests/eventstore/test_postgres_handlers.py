"""Inline handlers' statements on PostgreSQL: which ones the server may run as one
multi-row INSERT, and that running them so changes nothing a handler can observe
(order, outcomes, one append failing alone)."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import psycopg
import pytest

from headwater.errors import ConcurrencyError, InlineHandlerFailed
from headwater.eventstore import (
    NO_STREAM,
    EventStore,
    NewEvent,
    RecordedEvent,
    Statement,
    create_event_store,
)
from headwater.eventstore._factory import postgres_options
from headwater.eventstore._postgres_handlers import (
    Prepared,
    StandIns,
    _mergeable,
    _split,
    merge_group,
    prepare_statements,
)
from headwater.eventstore._sql import qmark_to_pyformat


def _texts(sql: str) -> tuple[str, ...]:
    return _split(qmark_to_pyformat(sql))


@pytest.mark.parametrize(
    ("sql", "mergeable"),
    [
        ("INSERT INTO t (a, b) VALUES (?, ?)", 1),
        ("insert into t(a) values(?)", 1),
        ("INSERT INTO t VALUES (?,?) ON CONFLICT (a) DO UPDATE SET b = t.b + excluded.b", 1),
        ("INSERT INTO t VALUES (?) ON CONFLICT DO NOTHING RETURNING a", 1),
        # A value that is not a placeholder, or rows already there: left alone.
        ("INSERT INTO t VALUES (?, now())", 0),
        ("INSERT INTO t VALUES (?), (?)", 0),
        ("INSERT INTO t VALUES (1)", 0),
        # Anything that could read what the rows before it wrote, or is not one INSERT.
        ("INSERT INTO t VALUES (?) ON CONFLICT (a) DO UPDATE SET b = (SELECT 1)", 0),
        ("INSERT INTO t SELECT ?", 0),
        ("WITH x AS (SELECT 1) INSERT INTO t VALUES (?)", 0),
        ("INSERT INTO t VALUES (?); DELETE FROM t", 0),
        ("UPDATE t SET a = ?", 0),
        ("DELETE FROM t", 0),
    ],
)
def test_which_statements_may_run_as_one_multi_row_insert(sql: str, mergeable: int) -> None:
    assert _mergeable(_texts(sql)) == mergeable


def _prepared(handler: Callable[[Sequence[RecordedEvent]], list[Statement]]) -> list[object]:
    event = NewEvent("Happened", {"n": 1})
    guess = StandIns(41, 7, datetime(2026, 1, 2, tzinfo=UTC))
    prepared = prepare_statements([handler], "s", [event], None, guess, [({"n": 1}, {})])
    return [arguments for _mergeable_, _texts_, arguments in prepared]


def test_a_handler_that_reads_no_field_the_server_assigns_runs_once() -> None:
    calls: list[int] = []

    def handler(events: Sequence[RecordedEvent]) -> list[Statement]:
        calls.append(1)
        return [
            Statement("INSERT INTO t VALUES (?, ?)", (e.stream_id, e.data["n"])) for e in events
        ]

    assert _prepared(handler) == [["'s'", "1"]]
    assert len(calls) == 1


@pytest.mark.parametrize(
    "read",
    [
        lambda e: e.position,
        lambda e: dataclasses.asdict(e)["position"],
        lambda e: dataclasses.astuple(e)[3],
    ],
    ids=["attribute", "asdict", "astuple"],
)
def test_a_handler_that_reads_a_field_the_server_assigns_gets_a_slot(
    read: Callable[[RecordedEvent], object],
) -> None:
    calls: list[int] = []

    def handler(events: Sequence[RecordedEvent]) -> list[Statement]:
        calls.append(1)
        return [Statement("INSERT INTO t VALUES (?)", (read(e),)) for e in events]

    assert _prepared(handler) == [[["p", 0]]]
    assert len(calls) == 2


def _statement(sql: str, *arguments: object) -> Prepared:
    texts = _texts(sql)
    return (_mergeable(texts), texts, list(arguments))  # type: ignore[arg-type]


def test_a_groups_statements_are_merged_in_runs_of_one_text_in_the_order_written() -> None:
    row = "INSERT INTO t (a, b) VALUES (?, ?)"
    other = "INSERT INTO u (a) VALUES (?)"
    update = "UPDATE t SET b = ? WHERE a = ?"
    merged = merge_group(
        [
            ([_statement(row, "'x'", "1"), _statement(row, "'y'", "2")], 1, 1),
            ([_statement(row, "'z'", "3"), _statement(other, "'w'")], 1, 1),
            ([_statement(update, "4", "'x'"), _statement(row, "'v'", "5")], 1, 1),
            ([_statement("DELETE FROM u")], 1, 1),
        ]
    )
    assert merged == [
        "INSERT INTO t (a, b) VALUES ('x', 1), ('y', 2), ('z', 3)",
        "INSERT INTO u (a) VALUES ('w')",
        "UPDATE t SET b = 4 WHERE a = 'x'",
        "INSERT INTO t (a, b) VALUES ('v', 5)",
        "DELETE FROM u",
    ]


def test_slots_become_the_groups_first_position_and_time_or_known_versions() -> None:
    sql = "INSERT INTO t VALUES (?, ?, ?, ?)"
    merged = merge_group(
        [
            ([], 3, 1),  # three events ahead: the next append's positions are $1 + 3 on
            ([_statement(sql, ["p", 1], ["v", 1], ["t", 0], ["u", 0])], 2, 8),
        ]
    )
    assert merged is not None
    assert merged[0].startswith("INSERT INTO t VALUES (($1::BIGINT + 4), 9, $2::timestamptz, ")
    # A version the server alone knows (an append without an exact expected version).
    assert merge_group([([_statement(sql, ["v", 0], "1", "2", "3")], 1, None)]) is None


# --- on the server -------------------------------------------------------------------


@pytest.fixture
async def store(postgres_url: str) -> AsyncIterator[EventStore]:
    opened = await create_event_store(postgres_url, migrate=True)
    try:
        yield opened
    finally:
        await opened.close()


@asynccontextmanager
async def _one_group(url: str) -> AsyncIterator[None]:
    """Appends made inside queue behind one that waits for the append lock, held by
    another connection: when it is released they go in one group commit."""
    conninfo, schema = postgres_options(url)
    conn = await psycopg.AsyncConnection.connect(conninfo, options=f"-c search_path={schema}")
    try:
        await conn.execute("SELECT position FROM hw_head FOR UPDATE")
        yield
    finally:
        await conn.rollback()
        await conn.close()


async def _grouped(store: EventStore, url: str, count: int) -> list[object]:
    async with _one_group(url):
        first = asyncio.ensure_future(store.append("first", [NewEvent("Happened", {})]))
        await asyncio.sleep(0.1)  # sent, waiting for the lock: the rest queue behind it
        rest = [
            asyncio.ensure_future(store.append(f"s-{i}", [NewEvent("Happened", {"i": i})]))
            for i in range(count)
        ]
        await asyncio.sleep(0.1)
    return await asyncio.gather(first, *rest, return_exceptions=True)


def _log_row(events: Sequence[RecordedEvent]) -> list[Statement]:
    return [
        Statement("INSERT INTO rm_log (id, position, version) VALUES (?, ?, ?)", params)
        for params in ((str(e.id), e.position, e.version) for e in events)
    ]


@pytest.mark.postgres
@pytest.mark.anyio
async def test_a_groups_single_row_inserts_run_as_one_statement(
    store: EventStore, postgres_url: str
) -> None:
    async with store.transaction() as tx:
        await tx.execute(
            "CREATE TABLE rm_log (id TEXT PRIMARY KEY, position BIGINT, version BIGINT)"
        )
        await tx.execute("CREATE TABLE rm_calls (n INTEGER)")
        # A statement-level trigger fires once per INSERT statement, whatever its rows.
        await tx.execute(
            "CREATE FUNCTION rm_count_call() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN INSERT INTO rm_calls VALUES (1); RETURN NULL; END $$"
        )
        await tx.execute(
            "CREATE TRIGGER rm_log_calls AFTER INSERT ON rm_log "
            "FOR EACH STATEMENT EXECUTE FUNCTION rm_count_call()"
        )
    store.add_inline_handler(_log_row)

    outcomes = await _grouped(store, postgres_url, 20)

    assert not [o for o in outcomes if isinstance(o, BaseException)]
    stored = [e async for e in store.read_all()]
    rows = await store.fetchall("SELECT id, position, version FROM rm_log ORDER BY position")
    assert [tuple(r) for r in rows] == [(str(e.id), e.position, e.version) for e in stored]
    calls = await store.fetchall("SELECT count(*) FROM rm_calls")
    assert calls[0][0] == 2  # the first append's group, then the other 20 together


def _count_by_type(events: Sequence[RecordedEvent]) -> list[Statement]:
    # Every append reaches the same row: as one multi-row upsert, PostgreSQL refuses.
    return [
        Statement(
            "INSERT INTO rm_types (type, n) VALUES (?, ?) "
            "ON CONFLICT (type) DO UPDATE SET n = rm_types.n + excluded.n",
            (e.type, 1),
        )
        for e in events
    ]


@pytest.mark.postgres
@pytest.mark.anyio
async def test_a_run_that_reaches_one_row_twice_is_run_statement_by_statement(
    store: EventStore, postgres_url: str
) -> None:
    async with store.transaction() as tx:
        await tx.execute("CREATE TABLE rm_types (type TEXT PRIMARY KEY, n INTEGER NOT NULL)")
    store.add_inline_handler(_count_by_type)

    outcomes = await _grouped(store, postgres_url, 20)

    assert not [o for o in outcomes if isinstance(o, BaseException)]
    assert [tuple(r) for r in await store.fetchall("SELECT type, n FROM rm_types")] == [
        ("Happened", 21)
    ]


def _insert_then_scale(events: Sequence[RecordedEvent]) -> list[Statement]:
    # Each append inserts its row, then multiplies every row there is by ten: only
    # in the order written does the n-th row of N end at 10 ** (N - n + 1).
    statements: list[Statement] = []
    for event in events:
        statements.append(
            Statement("INSERT INTO rm_scaled (id, n) VALUES (?, ?)", (str(event.id), 1))
        )
        statements.append(Statement("UPDATE rm_scaled SET n = n * 10"))
    return statements


@pytest.mark.postgres
@pytest.mark.anyio
async def test_statements_take_effect_in_the_order_they_were_written(
    store: EventStore, postgres_url: str
) -> None:
    async with store.transaction() as tx:
        await tx.execute("CREATE TABLE rm_scaled (id TEXT PRIMARY KEY, n BIGINT NOT NULL)")
    store.add_inline_handler(_insert_then_scale)

    outcomes = await _grouped(store, postgres_url, 8)

    assert not [o for o in outcomes if isinstance(o, BaseException)]
    stored = [e async for e in store.read_all()]
    rows = dict(await store.fetchall("SELECT id, n FROM rm_scaled"))
    assert [rows[str(e.id)] for e in stored] == [10 ** (9 - k) for k in range(9)]


async def _grouped_exactly(
    store: EventStore, url: str, count: int, *, conflicting: int | None = None
) -> list[object]:
    """As _grouped, each append stating its expected version (NO_STREAM), so that
    the group's statements can be merged by the writer; ``conflicting`` expects a
    version its stream does not have."""
    async with _one_group(url):
        first = asyncio.ensure_future(store.append("first", [NewEvent("Happened", {})]))
        await asyncio.sleep(0.1)
        rest = [
            asyncio.ensure_future(
                store.append(
                    f"s-{i}",
                    [NewEvent("Happened", {"i": i}), NewEvent("Happened", {"i": -i})],
                    expected_version=5 if i == conflicting else NO_STREAM,
                )
            )
            for i in range(count)
        ]
        await asyncio.sleep(0.1)
    return await asyncio.gather(first, *rest, return_exceptions=True)


def _log_all(events: Sequence[RecordedEvent]) -> list[Statement]:
    return [
        Statement(
            "INSERT INTO rm_all (id, position, version, at, micros) VALUES (?, ?, ?, ?, ?)",
            (
                str(e.id),
                e.position,
                e.version,
                e.recorded_at,
                int(e.recorded_at.timestamp() * 1_000_000),
            ),
        )
        for e in events
    ]


async def _log_all_table(store: EventStore) -> None:
    async with store.transaction() as tx:
        await tx.execute(
            "CREATE TABLE rm_all (id TEXT PRIMARY KEY, position BIGINT, version BIGINT, "
            "at TIMESTAMPTZ, micros BIGINT)"
        )
    store.add_inline_handler(_log_all)


async def _logged_as_stored(store: EventStore) -> None:
    stored = [e async for e in store.read_all()]
    rows = await store.fetchall("SELECT id, position, version, at, micros FROM rm_all")
    assert sorted(tuple(r) for r in rows) == sorted(
        (str(e.id), e.position, e.version, e.recorded_at, int(e.recorded_at.timestamp() * 1e6))
        for e in stored
    )


@pytest.mark.postgres
@pytest.mark.anyio
async def test_a_group_merged_by_the_writer_gets_every_server_assigned_value_right(
    store: EventStore, postgres_url: str
) -> None:
    await _log_all_table(store)

    outcomes = await _grouped_exactly(store, postgres_url, 12)

    assert not [o for o in outcomes if isinstance(o, BaseException)]
    assert len([e async for e in store.read_all()]) == 25
    await _logged_as_stored(store)


@pytest.mark.postgres
@pytest.mark.anyio
async def test_a_conflict_in_a_merged_group_fails_alone_and_the_rest_keep_their_rows(
    store: EventStore, postgres_url: str
) -> None:
    await _log_all_table(store)

    outcomes = await _grouped_exactly(store, postgres_url, 12, conflicting=4)

    assert isinstance(outcomes[5], ConcurrencyError)
    assert not [o for k, o in enumerate(outcomes) if k != 5 and isinstance(o, BaseException)]
    assert len([e async for e in store.read_all()]) == 23
    await _logged_as_stored(store)


@pytest.mark.postgres
@pytest.mark.anyio
async def test_a_failing_statement_in_a_merged_group_fails_its_own_append_only(
    store: EventStore, postgres_url: str
) -> None:
    await _log_all_table(store)
    async with store.transaction() as tx:
        # Refuses the rows of one append only (its second event, data {"i": -7}).
        await tx.execute("ALTER TABLE rm_all ADD CONSTRAINT no_s7 CHECK (version < 9)")
        await tx.execute("CREATE TABLE rm_refused (stream TEXT)")

    def refuse_s7(events: Sequence[RecordedEvent]) -> list[Statement]:
        return [
            Statement("INSERT INTO rm_all (id, version) VALUES (?, ?)", (str(e.id), 9))
            for e in events
            if e.stream_id == "s-7" and e.version == 2
        ]

    store.add_inline_handler(refuse_s7)

    outcomes = await _grouped_exactly(store, postgres_url, 12)

    assert isinstance(outcomes[8], InlineHandlerFailed)
    assert not [o for k, o in enumerate(outcomes) if k != 8 and isinstance(o, BaseException)]
    assert "s-7" not in {e.stream_id async for e in store.read_all()}
    await _logged_as_stored(store)


@pytest.mark.postgres
@pytest.mark.anyio
async def test_an_upsert_that_reaches_one_row_twice_in_a_merged_group_is_then_run_row_by_row(
    store: EventStore, postgres_url: str
) -> None:
    async with store.transaction() as tx:
        await tx.execute("CREATE TABLE rm_types (type TEXT PRIMARY KEY, n INTEGER NOT NULL)")
    store.add_inline_handler(_count_by_type)

    first = await _grouped_exactly(store, postgres_url, 10)
    writer = store._writer  # type: ignore[attr-defined]
    # Learnt from the first group: the next ones run it row by row at once.
    assert len(writer._unmergeable) == 1
    async with _one_group(postgres_url):
        rest = [
            asyncio.ensure_future(
                store.append(f"t-{i}", [NewEvent("Happened", {})], expected_version=NO_STREAM)
            )
            for i in range(10)
        ]
        await asyncio.sleep(0.1)
    second = await asyncio.gather(*rest, return_exceptions=True)

    assert not [o for o in [*first, *second] if isinstance(o, BaseException)]
    assert [tuple(r) for r in await store.fetchall("SELECT type, n FROM rm_types")] == [
        ("Happened", 31)
    ]
