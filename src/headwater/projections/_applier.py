"""Applying batches of events to a projection: retries, poison parking, coalescing.

Shared by the async runner (which commits to the live tables and moves the
checkpoint) and the rebuild (which commits to fresh tables); each supplies a
:class:`Sink` that says how a batch is committed.

Failure policy, in order:

1. The batch is applied by the handlers and committed as one transaction.
2. If a handler raises on an event, the events before it are committed, and the
   event is retried on its own.
3. If the batch commit fails, its events are redone one per transaction, to find
   the one whose statements fail.
4. Before an event is blamed for a failed commit, the sink is probed with an empty
   commit: if that fails too, the store is in trouble, not the event, and the error
   goes up (the runner backs off and resumes from its checkpoint; nothing is parked).
5. An event still failing after ``RetryPolicy.attempts`` is parked (stored with its
   error) in the same transaction that moves the position past it, and skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from headwater.errors import ProjectionFenced
from headwater.eventstore._protocol import EventStore
from headwater.eventstore._records import RecordedEvent
from headwater.eventstore._sql import Statement
from headwater.projections._checkpoints import describe_error
from headwater.projections._coalesce import coalesce
from headwater.projections._projection import Projection
from headwater.projections._readmodels import redirect_tables


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often, and how patiently, one failing event is retried before it is parked."""

    attempts: int = 5
    base_delay: float = 0.05
    max_delay: float = 5.0

    def delay(self, attempt: int) -> float:
        """Exponential backoff after the ``attempt``-th failure (1-based)."""
        return float(min(self.base_delay * 2 ** (attempt - 1), self.max_delay))


class Sink(Protocol):
    """Where applied statements go. ``position`` is what the sink has committed."""

    @property
    def position(self) -> int: ...

    async def commit(self, statements: list[Statement], position: int) -> None:
        """Commit ``statements`` and move to ``position``, atomically."""

    async def park(self, event: RecordedEvent, error: str, attempts: int) -> None:
        """Record ``event`` as poison and move past it, atomically."""

    async def probe(self) -> None:
        """Raise if committing is impossible right now for reasons unrelated to events."""


class Applier:
    """Applies events to one projection through a sink, with the policy above."""

    def __init__(
        self,
        projection: Projection,
        sink: Sink,
        retry: RetryPolicy,
        *,
        targets: Mapping[str, str] | None = None,
    ) -> None:
        self.projection = projection
        self.sink = sink
        self.retry = retry
        # The live tables by default: handlers then may only touch their own tables.
        self._targets = targets or {t.name: t.name for t in projection.tables}
        #: Errors of events parked by this applier, newest last (for status and tests).
        self.parked: list[tuple[int, str]] = []

    def _statements(self, event: RecordedEvent) -> list[Statement]:
        with redirect_tables(self._targets):
            return self.projection.apply(event)

    async def apply(self, events: Sequence[RecordedEvent]) -> None:
        pending: list[RecordedEvent] = []
        statements: list[Statement] = []
        for event in events:
            try:
                produced = self._statements(event)
            except Exception as exc:
                await self._flush(pending, statements)
                pending, statements = [], []
                await self._one(event, exc)
                continue
            pending.append(event)
            statements.extend(produced)
        await self._flush(pending, statements)

    async def _flush(self, events: list[RecordedEvent], statements: list[Statement]) -> None:
        if not events:
            return
        try:
            await self.sink.commit(coalesce(statements), events[-1].position)
        except ProjectionFenced:
            raise
        except Exception:
            # Which event's statements failed is unknown: redo them one by one.
            for event in events:
                await self._one(event, None)

    async def _one(self, event: RecordedEvent, error: BaseException | None) -> None:
        """Apply and commit one event, retrying with backoff; park it when it keeps failing.

        ``error`` is the failure already seen for this event, if any (it counts as the
        first attempt).
        """
        attempt = 0 if error is None else 1
        while True:
            if error is None:
                attempt += 1
                error = await self._try_one(event)
                if error is None:
                    return
            if attempt >= self.retry.attempts:
                text = describe_error(error)
                await self.sink.park(event, text, attempt)
                self.parked.append((event.position, text))
                return
            await asyncio.sleep(self.retry.delay(attempt))
            error = None

    async def _try_one(self, event: RecordedEvent) -> BaseException | None:
        try:
            statements = self._statements(event)
        except Exception as exc:
            return exc  # the handler's own failure: no database involved
        try:
            await self.sink.commit(coalesce(statements), event.position)
        except ProjectionFenced:
            raise
        except Exception as exc:
            # Blame the event only if an empty commit works. If that fails too, the
            # store is in trouble: probe() raises and the caller resumes later.
            await self.sink.probe()
            return exc
        return None


async def apply_backlog(
    store: EventStore,
    applier: Applier,
    batch_size: int,
    on_batch: Callable[[], None] | None = None,
) -> int:
    """Apply handled events after the sink's position, page by page, until a page
    comes back short (the log's end, as of that read). Returns how many were applied.

    The next page is read while the current one is applied and committed: the read
    depends only on the last position of the current page, not on its commit. Pages
    are at least the store's page size, so small batches do not mean small reads.
    """
    types = applier.projection.event_types
    if not types:
        return 0
    page_size = max(batch_size, store.page_size)

    async def page(after: int, after_id: uuid.UUID | None = None) -> list[RecordedEvent]:
        # With the id of the page's last event the next read notices a rewind of the log
        # (LogRewound) even if new events took the lost positions meanwhile.
        events = store.read_all(after=after, after_event_id=after_id, types=types, limit=page_size)
        return [e async for e in events]

    count = 0
    events = await page(applier.sink.position)
    while events:
        last = events[-1]
        ahead = (
            asyncio.create_task(page(last.position, last.id)) if len(events) == page_size else None
        )
        try:
            for start in range(0, len(events), batch_size):
                await applier.apply(events[start : start + batch_size])
                if on_batch is not None:
                    on_batch()
        except BaseException:
            if ahead is not None:
                ahead.cancel()
                with contextlib.suppress(BaseException):
                    await ahead
            raise
        count += len(events)
        events = [] if ahead is None else await ahead
    return count
