"""The async runner: follows the log from a projection's checkpoint and keeps its tables current.

Exactly-once comes from one rule: the read-model rows of a batch and the checkpoint
they reflect commit in one transaction (``store.commit``), and the checkpoint moves
by compare-and-set. A crash loses at most an uncommitted batch, which is redone from
the checkpoint; a second writer (another instance of this runner, a rebuild's swap)
makes our compare-and-set fail, so we reload the checkpoint and carry on from there.

One runner per projection, each in its own task, so a projection that is stuck or
failing never holds up another.

The checkpoint is also checked against the log, whenever the runner loads it and
whenever a read says the log was rewound (``LogRewound``: a failover that lost
commits, an older file restored). A checkpoint at or below the head is where the
runner resumes; one beyond the head means the read model holds events the log no
longer has, so the projection is rebuilt from the log (or, with
``rebuild_on_rewind=False``, the runner stops with the error) - never does it skip
ahead past positions that now name other events.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Self

from headwater.errors import InvalidReadModel, LogRewound, ProjectionFenced
from headwater.eventstore._notifier import Notifier
from headwater.eventstore._protocol import EventStore
from headwater.eventstore._records import RecordedEvent
from headwater.eventstore._sql import Statement
from headwater.projections._applier import Applier, RetryPolicy, apply_backlog
from headwater.projections._checkpoints import (
    advance,
    describe_error,
    error_note,
    heartbeat,
    park,
    read_record,
    register,
    set_state,
)
from headwater.projections._projection import Projection
from headwater.projections.rebuild import rebuild

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RunnerOptions:
    #: Most events per transaction. Bigger batches amortise the commit (an fsync on
    #: SQLite); smaller ones bound the work redone after a crash.
    batch_size: int = 500
    #: After the first event of a batch, wait this long for more before committing.
    #: 0 commits as soon as nothing more is queued: batches still grow under load,
    #: because events queue up while the previous commit is in flight.
    batch_wait: float = 0.0
    #: How often an idle runner says it is alive (status shows "stopped" after 3x).
    heartbeat_seconds: float = 5.0
    #: Retries of one failing event before it is parked as poison.
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    #: Backoff while the store itself is failing (nothing is parked then).
    outage: RetryPolicy = field(
        default_factory=lambda: RetryPolicy(attempts=1_000_000, base_delay=0.1, max_delay=10.0)
    )
    #: Rebuild when the declared tables or handled types changed since the last run.
    rebuild_on_change: bool = True
    #: Rebuild when the checkpoint is beyond the log's head (the log was rewound under
    #: the read model). False: the runner stops with ``LogRewound`` for an operator.
    rebuild_on_rewind: bool = True


#: Told, after each commit that changed rows, which read-model tables changed (the
#: cache drops entries tagged with them, on every node).
OnCommit = Callable[[Sequence[str]], Awaitable[None]]


class _LiveSink:
    """Commits to the live tables, moving the checkpoint by compare-and-set."""

    def __init__(
        self,
        store: EventStore,
        name: str,
        position: int,
        tables: Sequence[str] = (),
        on_commit: OnCommit | None = None,
    ) -> None:
        self._store = store
        self._name = name
        self._position = position
        self._tables = tuple(tables)
        self._on_commit = on_commit

    @property
    def position(self) -> int:
        return self._position

    async def commit(self, statements: list[Statement], position: int) -> None:
        # The compare-and-set goes first: see checkpoints.advance for why.
        batch = [advance(self._name, self._position, position), *statements]
        try:
            await self._store.commit(batch)
        except Exception as exc:
            await self._check_fence(exc)
            raise
        self._position = position
        if statements and self._on_commit is not None:
            try:
                await self._on_commit(self._tables)
            except Exception:
                # The rows are committed; a cache that could not be told expires on
                # its own TTL. Projecting must not stop for it.
                log.exception("projection %s: on_commit hook failed", self._name)

    async def park(self, event: RecordedEvent, error: str, attempts: int) -> None:
        note = f"parked event {event.position} ({event.type}): {error}"
        await self.commit(
            [park(self._name, event, error, attempts), error_note(self._name, note)],
            event.position,
        )

    async def probe(self) -> None:
        await self.commit([], self._position)

    async def _check_fence(self, exc: Exception) -> None:
        record = await read_record(self._store, self._name)
        actual = None if record is None else record.position
        if actual != self._position:
            raise ProjectionFenced(self._name, self._position, actual) from exc


class ProjectionRunner:
    """Runs one async projection: ``await runner.run()`` (until cancelled), or
    ``async with runner:`` to run it in the background, or ``await runner.catch_up()``
    to process what is in the log now and return."""

    def __init__(
        self,
        store: EventStore,
        projection: Projection,
        options: RunnerOptions | None = None,
        *,
        on_commit: OnCommit | None = None,
    ) -> None:
        if projection.mode != "async":
            raise InvalidReadModel(
                f"{projection!r} is inline: attach it with attach_inline(), not a runner"
            )
        self.store = store
        self.projection = projection
        self.options = options or RunnerOptions()
        self.on_commit = on_commit
        self.last_error: str | None = None
        self._sink: _LiveSink | None = None
        self._applier: Applier | None = None
        self._progress = Notifier()
        self._outages = 0
        self._task: asyncio.Task[None] | None = None

    @property
    def name(self) -> str:
        return self.projection.name

    @property
    def position(self) -> int:
        """The checkpoint this runner has committed (0 before :meth:`prepare`)."""
        return 0 if self._sink is None else self._sink.position

    @property
    def parked(self) -> list[tuple[int, str]]:
        """(position, error) of events this runner parked, oldest first."""
        return [] if self._applier is None else list(self._applier.parked)

    # --- lifecycle ---------------------------------------------------------------------

    async def prepare(self) -> None:
        """Register the projection (tables, row); rebuild it if its declaration changed."""
        record = await register(self.store, self.projection)
        if record.fingerprint != self.projection.fingerprint():
            if not self.options.rebuild_on_change:
                raise InvalidReadModel(
                    f"projection {self.name!r} changed since its tables were built: rebuild it"
                )
            log.info("projection %s changed; rebuilding before it runs", self.name)
            await rebuild(self.store, self.projection, retry=self.options.retry)
            record = await register(self.store, self.projection)
        self._reset(await self._checked(record.position))

    async def _checked(self, checkpoint: int, valid_through: int | None = None) -> int:
        """``checkpoint``, once it is known to be in the log; rebuilds when it is not.

        ``valid_through``: the highest position a reader proved unchanged after a
        rewind; a checkpoint above it covers events that may have been replaced.
        """
        head = await self.store.head_position()
        limit = head if valid_through is None else min(head, valid_through)
        if checkpoint <= limit:
            return checkpoint
        rewound = LogRewound(checkpoint, head)
        self.last_error = describe_error(rewound)
        log.error(
            "projection %s: its checkpoint %s is beyond the log's head %s (the log was "
            "rewound: failover or restore); %s",
            self.name,
            checkpoint,
            head,
            "rebuilding it from the log" if self.options.rebuild_on_rewind else "stopping",
        )
        with contextlib.suppress(Exception):
            await set_state(self.store, self.name, "failed", error=self.last_error)
        if not self.options.rebuild_on_rewind:
            raise rewound
        await rebuild(self.store, self.projection, retry=self.options.retry)
        record = await read_record(self.store, self.name)
        return 0 if record is None else record.position

    def _reset(self, position: int) -> None:
        parked = [] if self._applier is None else self._applier.parked
        self._sink = _LiveSink(
            self.store,
            self.name,
            position,
            [table.name for table in self.projection.tables],
            self.on_commit,
        )
        self._applier = Applier(self.projection, self._sink, self.options.retry)
        self._applier.parked = parked

    async def _reload(self, valid_through: int | None = None) -> None:
        record = await read_record(self.store, self.name)
        if record is None:
            await self.prepare()
        else:
            self._reset(await self._checked(record.position, valid_through))

    async def run(self) -> None:
        """Follow the log until cancelled. Never stops on an event or a store outage;
        only a wrong declaration (``InvalidReadModel``) ends it with an error."""
        try:
            while True:
                try:
                    if self._sink is None:
                        await self.prepare()
                        await set_state(self.store, self.name, "running")
                    await self._follow()
                except ProjectionFenced as fenced:
                    log.info("%s: %s; resuming from the stored checkpoint", self.name, fenced)
                    await self._reload()
                except LogRewound as rewound:
                    # The stored checkpoint is the truth: it commits with the rows, in
                    # the log's own database, so a rewind takes both back together.
                    # _reload checks it against the head (and against what the reader
                    # proved unchanged) and rebuilds when it is beyond.
                    log.warning("projection %s: %s", self.name, rewound.message)
                    await self._reload(rewound.valid_through)
                except InvalidReadModel:
                    raise
                except Exception as exc:  # the store is failing: back off, resume later
                    await self._outage(exc)
        finally:
            # Best effort: the store may be closing or down; status ages out anyway.
            with contextlib.suppress(Exception):
                async with asyncio.timeout(2.0):
                    await self._mark_stopped()

    async def _mark_stopped(self) -> None:
        await set_state(self.store, self.name, "stopped")

    async def _outage(self, exc: Exception) -> None:
        self._outages += 1
        self.last_error = describe_error(exc)
        log.warning("projection %s failing (%s); backing off", self.name, self.last_error)
        with contextlib.suppress(Exception):
            await set_state(self.store, self.name, "failed", error=self.last_error)
        await asyncio.sleep(self.options.outage.delay(self._outages))
        if self._sink is not None:
            with contextlib.suppress(Exception):
                await self._reload()

    async def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self.run(), name=f"projection:{self.name}")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # --- processing --------------------------------------------------------------------

    async def catch_up(self) -> int:
        """Process every handled event in the log now, then return how many there were."""
        if self._applier is None:
            await self.prepare()
        assert self._applier is not None
        return await apply_backlog(
            self.store, self._applier, self.options.batch_size, self._progress.notify
        )

    async def wait_for(self, position: int) -> None:
        """Return once every handled event up to ``position`` is in the read model.

        Waits as long as that takes: bound it with ``asyncio.timeout`` where needed.
        """
        while True:
            waiter = self._progress.waiter()
            if await self._done_through(position):
                return
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(0.05):
                    await waiter.wait()

    async def _done_through(self, position: int) -> bool:
        if self._sink is None:
            return False
        types = self.projection.event_types
        if not types or self.position >= position:
            return True
        try:
            async for event in self.store.read_all(after=self.position, types=types, limit=1):
                return event.position > position
        except LogRewound:
            return False  # the runner itself resyncs; not done until it has
        return True

    def _on_batch(self) -> None:
        self._outages = 0
        self._progress.notify()

    async def _follow(self) -> None:
        """Alternate between paging through a backlog and following live events.

        Paging (``apply_backlog``) is the fast path: whole pages, the next one read
        while the current one commits. Once a page comes back short the runner is at
        the end of the log and subscribes; a full batch from the subscription means
        a backlog has built up again, so it goes back to paging.
        """
        types = self.projection.event_types
        assert self._applier is not None
        if not types:  # handles nothing: just stay visibly alive
            while True:
                await asyncio.sleep(self.options.heartbeat_seconds)
                await heartbeat(self.store, self.name)
        while True:
            await apply_backlog(self.store, self._applier, self.options.batch_size, self._on_batch)
            await self._follow_live(types)

    async def _follow_live(self, types: Sequence[str]) -> None:
        assert self._applier is not None
        queue: asyncio.Queue[RecordedEvent] = asyncio.Queue(maxsize=2 * self.options.batch_size)
        # Reading runs ahead in its own task, so the next events are read while a batch
        # commits; the bounded queue keeps memory flat when commits are the slower side.
        pump = asyncio.create_task(self._pump(queue, self._applier.sink.position, types))
        try:
            while True:
                batch = await self._next_batch(queue, pump)
                if batch is None:
                    await heartbeat(self.store, self.name)
                    continue
                await self._applier.apply(batch)
                self._on_batch()
                if len(batch) == self.options.batch_size:
                    return  # a backlog: page through it instead
        finally:
            await _cancel(pump)

    async def _pump(
        self, queue: asyncio.Queue[RecordedEvent], after: int, types: Sequence[str]
    ) -> None:
        async for event in self.store.subscribe(after=after, types=types):
            await queue.put(event)

    async def _next_batch(
        self, queue: asyncio.Queue[RecordedEvent], pump: asyncio.Task[None]
    ) -> list[RecordedEvent] | None:
        """Up to ``batch_size`` events; None after ``heartbeat_seconds`` without any."""
        try:
            batch = [queue.get_nowait()]
        except asyncio.QueueEmpty:
            getter = asyncio.create_task(queue.get())
            try:
                done, _ = await asyncio.wait(
                    {getter, pump},
                    timeout=self.options.heartbeat_seconds,
                    return_when=asyncio.FIRST_COMPLETED,
                )
            except BaseException:
                getter.cancel()
                raise
            if getter not in done:
                getter.cancel()  # an item it was woken for stays in the queue
                if pump in done:
                    pump.result()  # raises the reader's error
                    raise RuntimeError("the subscription ended") from None
                return None
            batch = [getter.result()]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.options.batch_wait
        while len(batch) < self.options.batch_size:
            try:
                batch.append(queue.get_nowait())
                continue
            except asyncio.QueueEmpty:
                remaining = deadline - loop.time()
            if remaining <= 0:
                break
            try:
                async with asyncio.timeout(remaining):
                    batch.append(await queue.get())
            except TimeoutError:
                break
        return batch


async def _cancel(task: asyncio.Task[None]) -> None:
    """Cancel ``task`` and wait for it to end; an error it ended with is not ours."""
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task


class ProjectionRunners:
    """Runs several async projections, each in its own task: ``async with`` starts them."""

    def __init__(
        self,
        store: EventStore,
        projections: Sequence[Projection],
        options: RunnerOptions | None = None,
    ) -> None:
        self.runners = {
            p.name: ProjectionRunner(store, p, options) for p in projections if p.mode == "async"
        }

    def __getitem__(self, name: str) -> ProjectionRunner:
        return self.runners[name]

    async def __aenter__(self) -> Self:
        for runner in self.runners.values():
            await runner.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await asyncio.gather(*(runner.stop() for runner in self.runners.values()))

    async def wait_for(self, position: int) -> None:
        await asyncio.gather(*(r.wait_for(position) for r in self.runners.values()))
