"""The group-commit writer of a PostgreSQL event store.

Every append of a store goes into one queue. One task takes whatever has queued up
while the previous commit was in flight and hands it to ``hw_append_handled`` (see
``migrations/postgresql/0002_inline_handlers.sql``) as one JSON document: one
statement, one round trip, one commit and one WAL flush for the whole group, while
each append still succeeds or fails on its own. The append lock (``hw_head``) is
taken and released inside that one statement, so it is never held across a round
trip: a slow or silent connection delays its own node's appends, nobody else's.

Inline handlers run before the lock, in the appending task: their statements travel
with the batch, completed by the server with each append's position, version and
time (``postgres_handlers``). In the common case (every append of the group 'ok', its
versions known ahead) the writer merges the group's statements itself and
``hw_append_merged`` (0004) runs them as sent; if the server refuses that shortcut,
nothing was written and the group goes to ``hw_append_handled``, which renders the
statements and isolates a failing one (two round trips, the first one's transaction
ended). An append whose statements cannot be prepared ahead at all runs the slow
way: its own transaction, each append under a savepoint, handlers on the real
events, one round trip after another under the lock. The slow path is also
the fallback when the one-statement batch fails as a whole, for example because one
append's data is something PostgreSQL refuses to store: the batch is redone append by
append so that only the culprit fails.

Every batch has a deadline. A batch that misses it answers its appends with
``AppendIndeterminate`` (each may have committed; a retry with the same event ids is
idempotent) and its connection is closed, never reused.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Final, TypeAlias

import psycopg
from psycopg.rows import TupleRow

from headwater.errors import (
    AppendIndeterminate,
    InlineHandlerFailed,
    InvalidEventData,
    StoreUnavailable,
)
from headwater.eventstore._postgres_appends import (
    AppendRequest,
    Outcome,
    handler_error,
    outcome_of,
    recorded_events,
    to_json,
)
from headwater.eventstore._postgres_handlers import (
    NotPreparable,
    StandIns,
    guess_now,
    merge_group,
    prepare_statements,
)
from headwater.eventstore._protocol import InlineHandler, collecting_after_commit
from headwater.eventstore._records import AppendResult
from headwater.eventstore._sql import Statement, qmark_to_pyformat

log = logging.getLogger(__name__)

Connection: TypeAlias = psycopg.AsyncConnection[TupleRow]

#: Bounds on one group commit, so one transaction (and the hw_head lock it holds)
#: stays short however deep the queue gets. A larger single append goes alone.
MAX_BATCH_APPENDS: Final = 1000
MAX_BATCH_EVENTS: Final = 5000

#: Appends answered "stale" (prepared with handlers a rebuild has replaced since) are
#: prepared again and resent this often before they take the slow path.
MAX_STALE_RETRIES: Final = 3
#: How long an append may wait for its group commit by default (Settings can change it).
DEFAULT_APPEND_TIMEOUT: Final = 5.0
#: And the time a group commit may take on top of that for each event it carries: a
#: bulk load's group of 5000 events (and their inline handlers' rows) is real work,
#: not a silent connection.
DEADLINE_PER_EVENT: Final = 0.01

_APPEND_BATCH: Final = "SELECT * FROM hw_append_batch(%s::jsonb, %s)"
_APPEND_HANDLED: Final = "SELECT * FROM hw_append_handled(%s::jsonb, %s)"
_APPEND_MERGED: Final = "SELECT * FROM hw_append_merged(%s::jsonb, %s, %s::jsonb)"
#: hw_append_merged's refusals (0004): a stale append in the group, one not 'ok'.
_MERGED_REFUSED: Final = frozenset({"HW001", "HW002"})
#: "ON CONFLICT DO UPDATE command cannot affect row a second time".
_CARDINALITY_VIOLATION: Final = "21000"
_READ_EPOCH: Final = "SELECT handlers_epoch FROM hw_head"


async def execute_statements(conn: Connection, statements: Sequence[Statement]) -> None:
    for statement in statements:
        query = qmark_to_pyformat(statement.sql)
        if statement.many:
            async with conn.cursor() as cursor:
                await cursor.executemany(query, list(statement.params))
        else:
            await conn.execute(query, tuple(statement.params))


def _unavailable(exc: Exception) -> StoreUnavailable:
    error = StoreUnavailable(f"PostgreSQL append failed: {exc}")
    error.__cause__ = exc
    return error


def is_disconnect(exc: BaseException, conn: Connection | None) -> bool:
    """Whether the error means the connection itself failed, rather than one statement."""
    return isinstance(exc, psycopg.OperationalError) or (conn is not None and conn.broken)


class GroupCommitWriter:
    """Owns the write connection and the task that group-commits through it."""

    def __init__(
        self,
        connect: Callable[[], Awaitable[Connection]],
        channel: str,
        inline_handlers: list[InlineHandler],
        on_commit: Callable[[], None],
        *,
        append_timeout: float = DEFAULT_APPEND_TIMEOUT,
    ) -> None:
        self._connect = connect
        self._channel = channel
        self._inline_handlers = inline_handlers
        self._on_commit = on_commit
        self._append_timeout = append_timeout
        self._pending: deque[AppendRequest] = deque()
        self._wakeup = asyncio.Event()
        self._stopping = False
        self._taken: list[AppendRequest] = []  # off the queue, not answered yet
        #: Events queued or in the group commit in flight: the work ahead of a new append.
        self._events_ahead = 0
        self._conn: Connection | None = None
        #: The handlers epoch last seen under the append lock (-1: none seen yet), and
        #: the newest position, which only seeds the handlers' stand-in events.
        self._epoch = -1
        self._head = 0
        #: Statement texts not to merge into multi-row statements (see _send_merged).
        self._unmergeable: set[tuple[str, ...]] = set()
        self._task = asyncio.create_task(self._run(), name="headwater-postgres-writer")

    def submit(self, request: AppendRequest) -> None:
        if self._stopping or self._task.done():
            raise StoreUnavailable("the event store's writer has stopped")
        # In the appending task: its handlers run here, while the previous group
        # commit is in flight, not in the writer's loop.
        self._prepare(request)
        # Due once the groups ahead of it had their deadlines (a bulk load queues many).
        self._events_ahead += len(request.events)
        request.due = (
            time.monotonic() + self._append_timeout + DEADLINE_PER_EVENT * self._events_ahead
        )
        self._pending.append(request)
        self._wakeup.set()

    async def stop(self) -> None:
        """Finish every append queued so far, then close the write connection.

        Bounded: a batch takes at most the append deadline, and once one has failed
        for want of the database, whatever is still queued fails at once.
        """
        self._stopping = True
        self._wakeup.set()
        try:
            await self._task
        finally:
            await self._drop_connection()

    # --- preparing inline handlers' statements -----------------------------------------

    def _prepare(self, request: AppendRequest) -> None:
        """Run the inline handlers on stand-ins (see postgres_handlers) and keep their
        statements with the request, with what they were prepared with.

        The epoch is read first: an append sent with epoch E was prepared after this
        writer saw E, so after every handler swap that E includes (see 0002).
        """
        request.epoch = self._epoch
        handlers = request.handlers = tuple(self._inline_handlers)
        if not handlers:
            request.prepared = []
            return
        guess = StandIns(self._head + 1, request.first_version_guess(), guess_now())
        request.after_commit = []
        try:
            with collecting_after_commit(request.after_commit):
                prepared = prepare_statements(
                    handlers,
                    request.stream_id,
                    request.events,
                    request.tenant_id,
                    guess,
                    request.decoded(),
                )
        except NotPreparable as exc:
            log.debug("append to %r takes the slow path: %s", request.stream_id, exc)
            request.prepared = None
            return
        request.prepared = prepared

    def _is_current(self, request: AppendRequest) -> bool:
        return request.epoch == self._epoch and request.handlers == tuple(self._inline_handlers)

    # --- the writer task ------------------------------------------------------------

    async def _run(self) -> None:
        try:
            await self._serve()
        finally:
            # Normally nothing is left; after an unexpected error, nobody may wait forever.
            for request in [*self._taken, *self._pending]:
                if not request.future.done():
                    request.future.set_exception(StoreUnavailable("the writer stopped"))
            self._pending.clear()
            self._events_ahead = 0

    async def _serve(self) -> None:
        pending = self._pending
        while True:
            if not pending:
                if self._stopping:
                    return
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            # Everything that queued up while the previous commit was in flight.
            batch = self._taken = [pending.popleft()]
            events = len(batch[0].events)
            while (
                pending
                and len(batch) < MAX_BATCH_APPENDS
                and events + len(pending[0].events) <= MAX_BATCH_EVENTS
            ):
                batch.append(pending.popleft())
                events += len(batch[-1].events)
            try:
                unavailable = await self._commit_batch(batch)
            finally:
                self._events_ahead -= events
            self._taken = []
            if unavailable and self._stopping:
                # Closing while the database is unreachable: the rest fails now rather
                # than each batch waiting out its own deadline.
                for request in pending:
                    if not request.future.done():
                        request.future.set_exception(
                            StoreUnavailable(
                                "the event store closed while PostgreSQL was unreachable"
                            )
                        )
                pending.clear()
                self._events_ahead = 0

    async def _commit_batch(self, batch: list[AppendRequest]) -> bool:
        """Commit one group; returns whether it failed for want of the database."""
        # A caller that was cancelled while queued gets nothing written.
        live = [request for request in batch if not request.future.done()]
        if not live:
            return False
        outcomes: list[Outcome]
        unavailable = False
        # The deadline runs in this task, the write in its own, so that a connection
        # that went silent cannot hold the writer (or close()) hostage.
        write = asyncio.create_task(self._write(live), name="headwater-postgres-append")
        deadline = self._append_timeout + DEADLINE_PER_EVENT * sum(len(r.events) for r in live)
        # Each append was given, at submission, the deadlines of the events ahead of it;
        # the ones that joined its group after it lengthen its wait too. Counted from
        # submission, not from now: a request queued behind a group that is dying on a
        # dead link must still fail within the base deadline, not wait out another.
        later = 0
        for request in reversed(live):
            request.due += DEADLINE_PER_EVENT * later
            later += len(request.events)
        try:
            done, _ = await asyncio.wait({write}, timeout=deadline)
        except asyncio.CancelledError:
            await self._abandon(write)
            raise
        if not done:
            log.warning(
                "a group commit of %d appends got no answer within %gs; discarding its connection",
                len(live),
                deadline,
            )
            await self._abandon(write)
            outcomes = [AppendIndeterminate(r.stream_id, deadline) for r in live]
            unavailable = True
        else:
            try:
                outcomes = write.result()
            except Exception as exc:
                if is_disconnect(exc, self._conn):
                    await self._drop_connection()
                # Also when the connection failed during COMMIT: the outcome is unknown
                # then, and a retry with the same event ids is safe (idempotent).
                outcomes = [_unavailable(exc) for _ in live]
                unavailable = True
        wrote = False
        for request, outcome in zip(live, outcomes, strict=True):
            if request.future.done():
                continue
            if isinstance(outcome, BaseException):
                request.future.set_exception(outcome)
            else:
                request.future.set_result(outcome)
                wrote = True
        if wrote:
            self._on_commit()
        for request, outcome in zip(live, outcomes, strict=True):
            if request.wrote and not isinstance(outcome, BaseException):
                for callback in request.after_commit:
                    try:
                        callback()
                    except Exception:  # one hook's failure is not the append's
                        log.exception("an after_commit callback of an inline handler failed")
        return unavailable

    async def _abandon(self, write: asyncio.Task[list[Outcome]]) -> None:
        """Close the write connection under a write that missed its deadline, then
        end the write. Closing first makes the end prompt: psycopg would otherwise
        try to cancel the query over the silent network before giving up. Awaited
        before any new connection opens, so the closed socket's number is not reused
        while the old write still watches it."""
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.pgconn.finish()  # no network I/O that could wait: the socket goes
            with contextlib.suppress(Exception):
                await conn.close()
        write.cancel()
        with contextlib.suppress(BaseException):
            await write

    async def _connection(self) -> Connection:
        if self._conn is None or self._conn.closed:
            self._conn = await self._connect()
            # The epoch is learnt before any append is prepared against it (see _prepare).
            cursor = await self._conn.execute(_READ_EPOCH)
            row = await cursor.fetchone()
            if row is not None:
                self._epoch = int(row[0])
        return self._conn

    async def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                await conn.close()
            except psycopg.Error:  # pragma: no cover - closing a dead connection
                log.debug("closing a broken write connection failed", exc_info=True)

    async def _write(self, batch: list[AppendRequest]) -> list[Outcome]:
        conn = await self._connection()
        outcomes: dict[int, Outcome] = {}
        todo = batch
        for _attempt in range(MAX_STALE_RETRIES):
            for request in todo:
                if not self._is_current(request):
                    self._prepare(request)
            fast = [r for r in todo if r.prepared is not None]
            slow = [r for r in todo if r.prepared is None]
            todo = []
            if fast:
                try:
                    stale = await self._write_handled(conn, fast, outcomes)
                except psycopg.Error as exc:
                    if is_disconnect(exc, conn):
                        raise
                    log.info("group commit failed as a whole (%s); retrying append by append", exc)
                    slow += fast
                    stale = []
                todo = stale
            if slow:
                for request, outcome in zip(
                    slow, await self._write_one_by_one(conn, slow), strict=True
                ):
                    outcomes[id(request)] = outcome
            if not todo:
                break
        else:
            # Rebuilds kept replacing the handlers: the slow path runs them under the lock.
            last = await self._write_one_by_one(conn, todo)
            for request, outcome in zip(todo, last, strict=True):
                outcomes[id(request)] = outcome
        return [outcomes[id(request)] for request in batch]

    async def _write_handled(
        self, conn: Connection, batch: list[AppendRequest], outcomes: dict[int, Outcome]
    ) -> list[AppendRequest]:
        """One statement for the whole group; returns the appends answered "stale"."""
        rows = await self._send_merged(conn, batch)
        if rows is None:
            document = "[" + ",".join(request.document() for request in batch) + "]"
            # Autocommit: this single statement is its whole transaction, and execute()
            # returns once PostgreSQL has committed it (WAL flushed).
            cursor = await conn.execute(_APPEND_HANDLED, (document, self._channel))
            rows = await cursor.fetchall()
        stale: list[AppendRequest] = []
        for request, row in zip(batch, rows, strict=True):
            # The server's word, even if lower (a restored or failed-over database).
            self._epoch = int(row[9])
            status = row[1]
            if status == "stale":
                stale.append(request)
            elif status == "handler":
                outcomes[id(request)] = handler_error(row[7], row[8])
            else:
                outcome = outcomes[id(request)] = outcome_of(request, row)
                if status == "ok" and isinstance(outcome, AppendResult):
                    self._head = max(self._head, outcome.positions[-1])
                    request.wrote = True
        return stale

    async def _send_merged(
        self, conn: Connection, batch: list[AppendRequest]
    ) -> list[TupleRow] | None:
        """The common case in one statement that renders nothing: the group's handler
        statements merged here (see 0004), run as they are if every append is 'ok'.

        None if the group has no statements, or they need a value known only to the
        server, or the server refused the shortcut (an append not 'ok', a stale one,
        a statement that failed): nothing was written then, and hw_append_handled
        takes the group."""
        if not any(request.prepared for request in batch):
            return None
        merged = merge_group(
            [(r.prepared or [], len(r.events), r.exact_first_version()) for r in batch],
            self._unmergeable,
        )
        if merged is None:
            return None
        document = "[" + ",".join(request.bare_document() for request in batch) + "]"
        try:
            cursor = await conn.execute(_APPEND_MERGED, (document, self._channel, to_json(merged)))
            return await cursor.fetchall()
        except psycopg.Error as exc:
            # psycopg knows no class "HW": it would take 0004's refusals for a failed link.
            if exc.sqlstate not in _MERGED_REFUSED and is_disconnect(exc, conn):
                raise
            if exc.sqlstate == _CARDINALITY_VIOLATION:
                # A multi-row upsert reached one row twice: that statement's text is
                # not merged again by this writer (the server ran it row by row now).
                self._unmergeable.update(
                    texts for r in batch for mergeable, texts, _ in r.prepared or () if mergeable
                )
            log.debug("the merged group commit was refused (%s); sending it unmerged", exc)
            return None

    async def _write_one_by_one(
        self, conn: Connection, batch: list[AppendRequest]
    ) -> list[Outcome]:
        """One transaction, one savepoint per append, inline handlers inside it."""
        outcomes: list[Outcome] = []
        async with conn.transaction():
            # Taken at the top level, so the lock (see hw_append_batch) is held until
            # COMMIT even when a savepoint that also locked it is rolled back. This is
            # the one place it is held across round trips: appends whose handlers could
            # not be prepared ahead, and batches PostgreSQL refused as a whole.
            await conn.execute("SELECT position FROM hw_head FOR UPDATE")
            for request in batch:
                try:
                    async with conn.transaction():
                        outcomes.append(await self._append_one(conn, request))
                except Exception as exc:
                    if is_disconnect(exc, conn):
                        raise
                    outcomes.append(exc)
        return outcomes

    async def _append_one(self, conn: Connection, request: AppendRequest) -> AppendResult:
        try:
            cursor = await conn.execute(_APPEND_BATCH, (f"[{request.payload}]", self._channel))
            row = await cursor.fetchone()
        except psycopg.DataError as exc:
            # What PostgreSQL cannot store, e.g. "\u0000" in a JSON string.
            reason = exc.diag.message_primary or str(exc)
            raise InvalidEventData(f"PostgreSQL cannot store this event: {reason}") from exc
        if row is None:  # pragma: no cover - the function returns a row per append
            raise StoreUnavailable("hw_append_batch returned no row")
        outcome = outcome_of(request, row)
        if isinstance(outcome, BaseException):
            raise outcome  # nothing was written; the savepoint is rolled back anyway
        if row[1] == "ok":
            events = recorded_events(request, row)
            request.after_commit = []
            for handler in list(self._inline_handlers):
                try:
                    with collecting_after_commit(request.after_commit):
                        statements = handler(events)
                    await execute_statements(conn, statements)
                except psycopg.errors.IntegrityError as exc:
                    raise InlineHandlerFailed(exc.diag.message_primary or str(exc)) from exc
            self._head = max(self._head, row[3] + len(request.events) - 1)
            # Only a savepoint so far: the whole transaction commits after the others.
            request.wrote = True
        return outcome
