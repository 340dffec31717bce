"""Job handlers by name: what a worker knows how to run.

A handler is ``async def handler(job: Job) -> None``. It returns to succeed, raises to
fail (retried with backoff while attempts remain), or raises ``PermanentJobError``
to go to the dead-letter state at once. Handlers must be idempotent: delivery is
at least once (a worker that dies after the work but before recording success leaves
the job to run again), never twice at the same time.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass

from headwater.errors import InvalidJob
from headwater.jobs._job import Job, new_job

HandlerFn = Callable[[Job], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Handler:
    name: str
    fn: HandlerFn
    #: Seconds one attempt may run before it is cancelled and counted as failed.
    timeout: float | None = None


class JobRegistry:
    def __init__(self) -> None:
        self._handlers: dict[str, Handler] = {}

    def register(self, name: str, fn: HandlerFn, *, timeout: float | None = None) -> None:
        new_job(name, {}, now=0)  # the same name rules as enqueue
        if name in self._handlers:
            raise InvalidJob(f"a handler for job {name!r} is registered already")
        if timeout is not None and not timeout > 0:
            raise InvalidJob("timeout must be a positive number of seconds")
        self._handlers[name] = Handler(name, fn, timeout)

    def handler(
        self, name: str, *, timeout: float | None = None
    ) -> Callable[[HandlerFn], HandlerFn]:
        """Decorator form of :meth:`register`."""

        def decorate(fn: HandlerFn) -> HandlerFn:
            self.register(name, fn, timeout=timeout)
            return fn

        return decorate

    def update(self, other: JobRegistry) -> None:
        for handler in other:
            self.register(handler.name, handler.fn, timeout=handler.timeout)

    def get(self, name: str) -> Handler | None:
        return self._handlers.get(name)

    @property
    def names(self) -> list[str]:
        return sorted(self._handlers)

    def __iter__(self) -> Iterator[Handler]:
        return iter(self._handlers.values())

    def __len__(self) -> int:
        return len(self._handlers)
