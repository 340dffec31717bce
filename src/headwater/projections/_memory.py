"""In-memory views: small read models that live in a process and rebuild from the log.

For things too small or too hot for a table (a leaderboard, a per-tenant counter,
a lookup map). The view replays the log when it starts and then follows it live; it
keeps no checkpoint, so a restart simply replays again. Handlers are synchronous and
run on the event loop: keep them cheap.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from types import TracebackType
from typing import Any, Generic, TypeVar

from headwater.errors import InvalidReadModel, LogRewound
from headwater.eventstore._notifier import Notifier
from headwater.eventstore._protocol import EventStore
from headwater.eventstore._records import RecordedEvent
from headwater.projections._checkpoints import describe_error
from headwater.projections._projection import event_type_name

log = logging.getLogger(__name__)

S = TypeVar("S")
#: ``handler(state, event)`` updates ``state`` in place, or returns a new state.
ViewHandler = Callable[[S, RecordedEvent], S | None]
F = TypeVar("F", bound=Callable[..., Any])


class MemoryView(Generic[S]):
    """``view = MemoryView("leaders", dict)``; ``@view.on("score.added")``; ``async with
    view.running(store): ... view.state ...``."""

    def __init__(self, name: str, initial: Callable[[], S]) -> None:
        self.name = name
        self._initial = initial
        self._handlers: dict[str, ViewHandler[S]] = {}
        self.state: S = initial()
        #: The position of the last event applied.
        self.position = 0
        #: (position, error) of events whose handler raised; they were skipped.
        self.errors: list[tuple[int, str]] = []
        self._progress = Notifier()

    def on(self, *event_types: Any) -> Callable[[F], F]:
        names = [event_type_name(t) for t in event_types]

        def register(handler: F) -> F:
            for type_name in names:
                if type_name in self._handlers:
                    raise InvalidReadModel(f"view {self.name!r} already handles {type_name!r}")
                self._handlers[type_name] = handler
            return handler

        return register

    def reset(self) -> None:
        self.state = self._initial()
        self.position = 0
        self.errors = []

    def apply(self, event: RecordedEvent) -> None:
        handler = self._handlers.get(event.type)
        if handler is not None:
            try:
                result = handler(self.state, event)
            except Exception as exc:
                # Skip, like a parked event: one bad event must not freeze the view.
                self.errors.append((event.position, describe_error(exc)))
                log.warning("view %s skipped event %s: %s", self.name, event.position, exc)
            else:
                if result is not None:
                    self.state = result
        self.position = event.position

    async def run(self, store: EventStore) -> None:
        """Replay from the start, then follow live events, until cancelled.

        After a rewind of the log (``LogRewound``: a failover lost commits) the state
        holds events the log no longer has, and a fold cannot take them out: the view
        replays from the start instead.
        """
        types = tuple(sorted(self._handlers))
        if not types:
            await asyncio.Event().wait()
        while True:
            self.reset()
            try:
                async for event in store.subscribe(types=types):
                    self.apply(event)
                    self._progress.notify()
            except LogRewound as rewound:
                log.warning("view %s: %s; replaying from the start", self.name, rewound.message)

    async def wait_for(self, position: int) -> None:
        """Return once every event up to ``position`` that the view handles is applied.

        Only meaningful for positions of handled events; bound it with ``asyncio.timeout``.
        """
        while self.position < position:
            await self._progress.waiter().wait()

    def running(self, store: EventStore) -> _Running[S]:
        return _Running(self, store)


class _Running(Generic[S]):
    def __init__(self, view: MemoryView[S], store: EventStore) -> None:
        self._view = view
        self._store = store
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> MemoryView[S]:
        self._task = asyncio.create_task(self._view.run(self._store))
        return self._view

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
