"""The event-store interface that every backend implements.

One abstract class holds everything that is the same on every backend: input
validation (so bad input is refused identically everywhere and before any I/O),
paging, and the subscription loop. A backend supplies a handful of primitive
``_``-methods; ``headwater.testing._eventstore`` is the contract suite they all pass.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import uuid
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal, Protocol, Self, TypeAlias

from headwater.errors import InvalidInput, LogRewound, StreamNotFound
from headwater.eventstore._notifier import Notifier
from headwater.eventstore._records import (
    ANY,
    AppendResult,
    ExpectedVersion,
    NewEvent,
    RecordedEvent,
    Snapshot,
    check_json_object,
    validate_expected_version,
    validate_new_events,
    validate_stream_id,
    validate_tenant_id,
)
from headwater.eventstore._sql import Statement

Dialect = Literal["sqlite", "postgresql"]

#: Rows fetched per round trip by readers and subscriptions. Large enough to make
#: the per-query cost vanish, small enough to keep memory flat on huge logs.
DEFAULT_PAGE_SIZE = 1000

#: Events a subscription remembers (position, id) to tell, after a rewind, how much
#: of what it yielded is still in the log. Asynchronous replication loses well under
#: a second of commits; older rewinds make the reader start over from 0.
REWIND_MEMORY = 1024


@dataclass(frozen=True, slots=True)
class EventFilter:
    """Which events a reader wants. ``None`` means "no restriction"."""

    types: tuple[str, ...] | None = None
    stream_prefix: str | None = None
    tenant_id: str | None = None

    @property
    def is_empty(self) -> bool:
        return self.types is None and self.stream_prefix is None and self.tenant_id is None

    @classmethod
    def build(
        cls,
        types: Iterable[str] | None,
        stream_prefix: str | None,
        tenant_id: str | None,
    ) -> EventFilter:
        if isinstance(types, str):
            raise InvalidInput("types must be a collection of type names, not one string")
        type_tuple = None if types is None else tuple(sorted(set(types)))
        if type_tuple is not None and not all(isinstance(t, str) and t for t in type_tuple):
            raise InvalidInput("types must be non-empty strings")
        if stream_prefix is not None and (not isinstance(stream_prefix, str) or not stream_prefix):
            raise InvalidInput("stream_prefix must be a non-empty string")
        return cls(type_tuple, stream_prefix, validate_tenant_id(tenant_id))


#: A pure function from one append's recorded events to the SQL that keeps an inline
#: read model current. Its statements run inside the append's transaction: if it
#: raises, or a statement fails, that append fails and writes nothing; its neighbours
#: in the same group commit are unaffected. It may be called more than once for one
#: append, and on stand-in events: PostgreSQL prepares the statements before the
#: append has its position (see ``postgres_handlers``), so it must have no effect
#: beyond the statements it returns.
InlineHandler: TypeAlias = "Callable[[Sequence[RecordedEvent]], Sequence[Statement]]"


_AFTER_COMMIT: ContextVar[list[Callable[[], None]] | None] = ContextVar(
    "headwater_after_commit", default=None
)


@contextlib.contextmanager
def collecting_after_commit(into: list[Callable[[], None]]) -> Iterator[None]:
    """Run inline handlers inside this: their ``after_commit`` callbacks land in ``into``,
    for the backend to call once their append has committed."""
    token = _AFTER_COMMIT.set(into)
    try:
        yield
    finally:
        _AFTER_COMMIT.reset(token)


class Transaction(Protocol):
    """One database transaction, for writers that must commit rows with a checkpoint.

    SQL uses ``?`` placeholders on every backend; PostgreSQL translates them.
    """

    @property
    def dialect(self) -> Dialect: ...

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement; return the number of rows it changed."""

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None: ...

    async def execute_script(self, sql: str) -> None:
        """Run several ``;``-separated statements verbatim (DDL, migrations); no parameters."""

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None: ...

    async def get_checkpoint(self, name: str) -> int | None: ...

    async def set_checkpoint(self, name: str, position: int) -> None: ...


def _check_position(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidInput(f"{what} must be a non-negative integer position, not {value!r}")
    return value


def _check_limit(limit: object) -> int | None:
    if limit is None:
        return None
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        raise InvalidInput(f"limit must be a non-negative integer, not {limit!r}")
    return limit


class _Tail:
    """The last event a reader saw, checked again on every page it reads.

    Positions are only unique within one history of the log: after a failover that
    lost commits (or a restore of an older file) the store gives the lost positions
    to new events. So each page read also returns the row at the reader's position
    (in the same statement, hence the same snapshot), and the reader goes on only if
    that row is still the event it saw there. If it is, nothing at or below it
    changed either: a promoted standby and a restored file both hold a prefix of
    the old log.
    """

    __slots__ = ("event_id", "position", "seen")

    def __init__(self, position: int, event_id: uuid.UUID | None) -> None:
        self.position = position
        #: None: not yet known (the first page, or after skipping to the head).
        self.event_id = event_id
        #: (position, id) of recent events, oldest first, to find the valid prefix.
        self.seen: deque[tuple[int, uuid.UUID]] = deque(maxlen=REWIND_MEMORY)
        if position and event_id is not None:
            self.seen.append((position, event_id))

    def saw(self, event: RecordedEvent) -> None:
        self.position = event.position
        self.event_id = event.id
        self.seen.append((event.position, event.id))

    def skip_to(self, event: RecordedEvent) -> None:
        """A filtered reader that looked up to ``event`` (the head) and yielded nothing.

        Its id is kept like a yielded one: were it kept as a bare position, a rewind
        that gave the position to a new event would go unnoticed.
        """
        self.position = event.position
        self.event_id = event.id
        self.seen.append((event.position, event.id))


def check_checkpoint_name(name: object) -> str:
    if not isinstance(name, str) or not name or len(name) > 255:
        raise InvalidInput(f"checkpoint name must be a non-empty string, not {name!r}")
    return name


class EventStore(abc.ABC):
    """An append-only log of events, in streams, with one global order.

    Use it as an async context manager, or call :meth:`close` when done.
    """

    dialect: Dialect
    page_size: int = DEFAULT_PAGE_SIZE
    #: How often an idle subscription re-reads even without a wake-up. A safety net
    #: for wake-ups that cannot reach this process, never a correctness mechanism:
    #: reads only ever return a gap-free prefix of the log.
    fallback_poll_seconds: float = 1.0
    #: The migrations that opening this store applied (empty when it was current).
    applied_migrations: list[str]

    def __init__(self) -> None:
        self._notifier = Notifier()
        self._inline_handlers: list[InlineHandler] = []
        self.applied_migrations = []

    def add_inline_handler(self, handler: InlineHandler) -> None:
        """Run ``handler`` inside every append's transaction (see :data:`InlineHandler`)."""
        self._inline_handlers.append(handler)

    def remove_inline_handler(self, handler: InlineHandler) -> None:
        self._inline_handlers.remove(handler)

    def after_commit(self, callback: Callable[[], None]) -> None:
        """From inside an inline handler: call ``callback`` on the store's event loop once
        the append it is handling has committed, and never if that append fails.

        A handler may run more than once and before its append has a position, so it
        must not act on the world itself; this is how it says "when this is done" (the
        job queue wakes its workers so). A callback given twice for one append runs
        once. Outside a handler, ``callback`` runs now.
        """
        pending = _AFTER_COMMIT.get()
        if pending is None:
            callback()
        elif callback not in pending:
            pending.append(callback)

    # --- writing --------------------------------------------------------------------

    async def append(
        self,
        stream_id: str,
        events: Sequence[NewEvent] | NewEvent,
        *,
        expected_version: ExpectedVersion = ANY,
        tenant_id: str | None = None,
    ) -> AppendResult:
        """Append events to a stream, atomically.

        Raises ``ConcurrencyError`` (writing nothing) when the stream is not at
        ``expected_version``. Re-appending events whose ids are stored already, in
        the same stream with the same content, writes nothing and returns the
        original result; an id reused for other content raises ``DuplicateEventId``.
        """
        return await self._append(
            validate_stream_id(stream_id),
            validate_new_events(events),
            validate_expected_version(expected_version),
            validate_tenant_id(tenant_id),
        )

    # --- reading --------------------------------------------------------------------

    async def read_stream(
        self,
        stream_id: str,
        *,
        from_version: int | None = None,
        backwards: bool = False,
        limit: int | None = None,
        tenant_id: str | None = None,
    ) -> AsyncIterator[RecordedEvent]:
        """Yield a stream's events from ``from_version`` on (or down, when backwards).

        A stream that does not exist yields nothing; see :meth:`require_stream`.
        With ``tenant_id``, a stream of another tenant reads as if it did not exist.
        """
        validate_stream_id(stream_id)
        tenant = validate_tenant_id(tenant_id)
        remaining = _check_limit(limit)
        if from_version is not None:
            _check_position(from_version, "from_version")
        cursor = from_version
        while remaining is None or remaining > 0:
            size = self.page_size if remaining is None else min(self.page_size, remaining)
            page = await self._read_stream_page(stream_id, cursor, backwards, size, tenant)
            for event in page:
                yield event
            if remaining is not None:
                remaining -= len(page)
            if len(page) < size:
                return
            cursor = page[-1].version + (-1 if backwards else 1)
            if cursor < 1:
                return

    async def read_all(
        self,
        *,
        after: int | None = None,
        after_event_id: uuid.UUID | None = None,
        limit: int | None = None,
        types: Iterable[str] | None = None,
        stream_prefix: str | None = None,
        tenant_id: str | None = None,
    ) -> AsyncIterator[RecordedEvent]:
        """Yield every event after position ``after``, in position order.

        A reader that keeps a cursor across calls (a tail) passes the id of the event
        it saw at ``after`` as ``after_event_id``: if the log no longer holds that
        event there (a failover lost it, an older file was restored), ``LogRewound``
        is raised instead of silently going on past positions that now name other
        events. Without an id, ``after`` must at least still exist in the log.
        """
        position = 0 if after is None else _check_position(after, "after")
        if after_event_id is not None and not isinstance(after_event_id, uuid.UUID):
            raise InvalidInput("after_event_id must be a UUID")
        remaining = _check_limit(limit)
        event_filter = EventFilter.build(types, stream_prefix, tenant_id)
        tail = _Tail(position, after_event_id)
        while remaining is None or remaining > 0:
            size = self.page_size if remaining is None else min(self.page_size, remaining)
            page = await self._tail_page(tail, size, event_filter)
            for event in page:
                yield event
                tail.saw(event)
            if remaining is not None:
                remaining -= len(page)
            if len(page) < size:
                return

    async def subscribe(
        self,
        *,
        after: int | None = None,
        after_event_id: uuid.UUID | None = None,
        types: Iterable[str] | None = None,
        stream_prefix: str | None = None,
        tenant_id: str | None = None,
    ) -> AsyncIterator[RecordedEvent]:
        """Yield history after ``after``, then live events as they commit, until cancelled.

        There is no separate "live" path that could race with history: every read,
        before and after the switch, asks the store for events past the last
        position seen, and backends only ever show a gap-free prefix of the log.
        A wake-up (in-process, or LISTEN/NOTIFY) merely says "read again now".

        Every read also checks that the last event seen is still in the log (see
        :meth:`read_all`): after a rewind the subscription raises ``LogRewound``,
        whose ``valid_through`` says where to subscribe again without missing the
        events that were given the lost positions.
        """
        position = 0 if after is None else _check_position(after, "after")
        if after_event_id is not None and not isinstance(after_event_id, uuid.UUID):
            raise InvalidInput("after_event_id must be a UUID")
        event_filter = EventFilter.build(types, stream_prefix, tenant_id)
        tail = _Tail(position, after_event_id)
        await self._start_watching()
        try:
            while True:
                # Take the wake-up before reading, so a commit that lands between the
                # read and the wait still wakes us.
                wake = self._notifier.waiter()
                # With a filter, events that do not match never advance the position;
                # the head read *before* the page tells how far the page really looked.
                head = None if event_filter.is_empty else await self._last_event()
                page = await self._tail_page(tail, self.page_size, event_filter)
                for event in page:
                    yield event
                    tail.saw(event)
                if len(page) == self.page_size:
                    continue
                if head is not None and head.position > tail.position:
                    tail.skip_to(head)
                # asyncio.timeout, not wait_for: on Python 3.11 wait_for swallows a
                # cancellation that lands as the wake-up fires, and the cancelled
                # subscription would then wait forever.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.fallback_poll_seconds):
                        await wake.wait()
        finally:
            self._stop_watching()

    async def _tail_page(
        self, tail: _Tail, limit: int, event_filter: EventFilter
    ) -> list[RecordedEvent]:
        """The next page after ``tail``, once its anchor event is confirmed unchanged."""
        if tail.position == 0:
            return await self._read_all_page(0, limit, event_filter)
        page = await self._read_all_page(tail.position, limit, event_filter, anchored=True)
        if page and page[0].position == tail.position:
            anchor = page[0]
            if tail.event_id is None or anchor.id == tail.event_id:
                tail.event_id = anchor.id
                if not tail.seen or tail.seen[-1][0] != anchor.position:
                    tail.seen.append((anchor.position, anchor.id))
                return page[1:]
        raise LogRewound(
            tail.position, await self._head_position(), await self.last_unchanged(tail.seen)
        )

    async def last_unchanged(self, seen: Sequence[tuple[int, uuid.UUID]]) -> int | None:
        """Of events a reader saw, as (position, id) in position order, the highest
        position whose event is still stored there; ``None`` when not even the first is.

        After a rewind the log holds a prefix of what it held before, so the events
        still in place come first in ``seen``: a binary search, one indexed read per
        step, finds where they end. Nothing at or below the answer changed.
        """
        low, high = 0, len(seen) - 1
        found: int | None = None
        while low <= high:
            middle = (low + high) // 2
            position, event_id = seen[middle]
            stored = await self._read_event(event_id)
            if stored is not None and stored.position == position:
                found = position
                low = middle + 1
            else:
                high = middle - 1
        return found

    async def read_event(self, event_id: uuid.UUID) -> RecordedEvent | None:
        """The event stored under ``event_id``, or ``None``."""
        if not isinstance(event_id, uuid.UUID):
            raise InvalidInput(f"event id must be a UUID, not {type(event_id).__name__}")
        return await self._read_event(event_id)

    async def stream_version(self, stream_id: str, *, tenant_id: str | None = None) -> int | None:
        """The version of the stream's last event, or ``None`` if it does not exist."""
        return await self._stream_version(
            validate_stream_id(stream_id), validate_tenant_id(tenant_id)
        )

    async def require_stream(self, stream_id: str, *, tenant_id: str | None = None) -> int:
        """Like :meth:`stream_version`, but raises ``StreamNotFound`` for a missing stream."""
        version = await self.stream_version(stream_id, tenant_id=tenant_id)
        if version is None:
            raise StreamNotFound(stream_id)
        return version

    async def head_position(self) -> int:
        """The position of the newest committed event (0 for an empty store)."""
        return await self._head_position()

    async def log_identity(self) -> str | None:
        """Which history of the database the store reads, where the backend can tell.

        On PostgreSQL the cluster's system identifier and current timeline: promoting
        a standby starts a new timeline, so a change means a failover happened (and,
        with asynchronous replication, the newest commits may be gone: readers check
        their positions, see :class:`~headwater.errors.LogRewound`). ``None`` where
        there is no such identity (SQLite: a restored file is caught by the readers'
        own checks).
        """
        return None

    # --- read-only SQL (read models, lookups) ---------------------------------------

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run a read-only query (``?`` placeholders) outside any transaction.

        Uses a reader connection, never the writer: on SQLite a ``transaction()`` holds
        the one write lock, so read models and per-request lookups must come here.
        """
        if not isinstance(sql, str) or not sql.strip():
            raise InvalidInput("sql must be a non-empty string")
        return await self._query(sql, tuple(params))

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        rows = await self.fetchall(sql, params)
        return rows[0] if rows else None

    # --- readiness ------------------------------------------------------------------

    async def check_writable(self) -> None:
        """Raise :class:`StoreUnavailable` unless an append could commit now.

        What readiness means. By default the store answering a read; a backend
        whose writes can fail while reads work (a network link, a writer task)
        checks more.
        """
        await self._head_position()

    # --- snapshots ------------------------------------------------------------------

    async def save_snapshot(self, snapshot: Snapshot) -> None:
        validate_stream_id(snapshot.stream_id)
        if isinstance(snapshot.version, bool) or not isinstance(snapshot.version, int):
            raise InvalidInput("snapshot version must be an integer")
        if snapshot.version < 1:
            raise InvalidInput("snapshot version must be at least 1")
        check_json_object(snapshot.state, "snapshot state")
        if not isinstance(snapshot.schema, str) or not snapshot.schema:
            raise InvalidInput("snapshot schema must be a non-empty string")
        await self._save_snapshot(snapshot)

    async def load_snapshot(
        self, stream_id: str, *, at_or_below: int | None = None
    ) -> Snapshot | None:
        """The newest snapshot of the stream at or below ``at_or_below`` (any, if None)."""
        validate_stream_id(stream_id)
        if at_or_below is not None:
            _check_position(at_or_below, "at_or_below")
        return await self._load_snapshot(stream_id, at_or_below)

    # --- checkpoints ----------------------------------------------------------------

    async def get_checkpoint(self, name: str) -> int | None:
        async with self.transaction() as tx:
            return await tx.get_checkpoint(check_checkpoint_name(name))

    async def set_checkpoint(self, name: str, position: int) -> None:
        name = check_checkpoint_name(name)
        _check_position(position, "position")
        async with self.transaction() as tx:
            await tx.set_checkpoint(name, position)

    async def commit(
        self,
        statements: Sequence[Statement],
        *,
        checkpoint: tuple[str, int] | None = None,
    ) -> None:
        """Run statements and move a checkpoint, all in one transaction.

        The fast path for projection runners: read-model rows and the position they
        reflect become visible together or not at all.
        """
        if checkpoint is not None:
            check_checkpoint_name(checkpoint[0])
            _check_position(checkpoint[1], "checkpoint position")
        await self._commit(list(statements), checkpoint)

    @abc.abstractmethod
    def transaction(self) -> contextlib.AbstractAsyncContextManager[Transaction]:
        """A read-write transaction; it commits when the block exits without error."""

    # --- lifecycle ------------------------------------------------------------------

    @abc.abstractmethod
    async def close(self) -> None: ...

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # --- what a backend supplies ----------------------------------------------------

    @abc.abstractmethod
    async def _append(
        self,
        stream_id: str,
        events: list[NewEvent],
        expected_version: ExpectedVersion,
        tenant_id: str | None,
    ) -> AppendResult: ...

    @abc.abstractmethod
    async def _read_stream_page(
        self,
        stream_id: str,
        from_version: int | None,
        backwards: bool,
        limit: int,
        tenant_id: str | None,
    ) -> list[RecordedEvent]: ...

    @abc.abstractmethod
    async def _read_all_page(
        self, after: int, limit: int, event_filter: EventFilter, anchored: bool = False
    ) -> list[RecordedEvent]:
        """Up to ``limit`` events with position > after that pass the filter, in position
        order, visible as a gap-free prefix. ``anchored``: also the event *at* ``after``,
        whatever the filter, first, read in the same statement (see :class:`_Tail`)."""

    @abc.abstractmethod
    async def _head_position(self) -> int: ...

    async def _last_event(self) -> RecordedEvent | None:
        """The event at the head, read in one snapshot. Backends override this default
        (two reads: a rewind between them reads as no head, which is only a retry)."""
        head = await self._head_position()
        if head == 0:
            return None
        page = await self._read_all_page(head - 1, 1, EventFilter())
        return page[0] if page and page[0].position == head else None

    @abc.abstractmethod
    async def _query(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]: ...

    @abc.abstractmethod
    async def _read_event(self, event_id: uuid.UUID) -> RecordedEvent | None: ...

    @abc.abstractmethod
    async def _stream_version(self, stream_id: str, tenant_id: str | None) -> int | None: ...

    @abc.abstractmethod
    async def _save_snapshot(self, snapshot: Snapshot) -> None: ...

    @abc.abstractmethod
    async def _load_snapshot(self, stream_id: str, at_or_below: int | None) -> Snapshot | None: ...

    @abc.abstractmethod
    async def _commit(
        self, statements: list[Statement], checkpoint: tuple[str, int] | None
    ) -> None: ...

    async def _start_watching(self) -> None:
        """Called when a subscription starts; backends start their wake-up source here."""

    def _stop_watching(self) -> None:
        """Called when a subscription ends."""
