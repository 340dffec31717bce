"""The LISTEN connection of a PostgreSQL store: other nodes' commits become wake-ups.

A notification is only a hint (subscribers always read the store for the truth), so
nothing is lost while this connection is down: after every (re)connect subscribers
are woken once to re-read what they might have missed, and they poll slowly anyway.
But a LISTEN connection waits by design, so a dead link looks exactly like a quiet
log; left alone, cross-node wake-ups would fall back to the poll for good. Hence a
heartbeat: after every ``heartbeat`` seconds of waiting, one bounded round trip on
the same connection. If it does not come back in time, the connection is replaced,
with a log line and a count (``reconnects``) for the metrics.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Final

import psycopg
from psycopg import sql

from headwater.errors import StoreUnavailable
from headwater.eventstore._deadline import CANCEL_GRACE, bounded
from headwater.eventstore._postgres_connections import Connection, discard

log = logging.getLogger(__name__)

#: First and longest wait between reconnect attempts. Short: each attempt is itself
#: bounded by the connect timeout, and wake-ups are back as soon as one succeeds.
BACKOFF: Final = (0.1, 2.0)


class Listener:
    """Runs LISTEN on one channel for as long as it is started, checking the link."""

    def __init__(
        self,
        connect: Callable[[], Awaitable[Connection]],
        channel: str,
        on_wake: Callable[[], None],
        *,
        heartbeat: float,
        timeout: float,
    ) -> None:
        self._connect = connect
        self._channel = channel
        self._on_wake = on_wake
        self._heartbeat = heartbeat
        self._timeout = timeout
        self._task: asyncio.Task[None] | None = None
        #: Times a LISTEN connection was lost (silent or failed) and replaced.
        self.reconnects = 0
        #: Whether a LISTEN connection is up now.
        self.connected = False
        self._last_heard = time.monotonic()

    @property
    def running(self) -> bool:
        return self._task is not None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="headwater-pg-listen")

    def stop_soon(self) -> None:
        """Stop without waiting (the last subscriber left; nobody needs wake-ups)."""
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            # The second cancellation cuts off psycopg's attempt to cancel a query
            # on the server (see deadline.bounded), should the link be dead.
            asyncio.get_running_loop().call_later(CANCEL_GRACE, task.cancel)

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        # Twice, like deadline.bounded: a first cancellation inside a query makes
        # psycopg ask the server to cancel it, which a dead link never answers.
        for _ in range(2):
            if task.done():
                break
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait((task,), timeout=CANCEL_GRACE)
        if task.done() and not task.cancelled():
            task.exception()

    async def _run(self) -> None:
        delay, longest = BACKOFF
        while True:
            try:
                conn = await self._connect()
                try:
                    await bounded(
                        conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self._channel))),
                        self._timeout,
                        "PostgreSQL LISTEN",
                    )
                    self.connected = True
                    self._last_heard = time.monotonic()
                    delay = BACKOFF[0]
                    self._on_wake()  # re-read whatever was committed while we were away
                    await self._serve(conn)
                finally:
                    self.connected = False
                    await discard(conn)
            except (psycopg.Error, StoreUnavailable) as exc:
                self.reconnects += 1
                log.warning(
                    "PostgreSQL LISTEN connection on %s lost after %.1f s without an "
                    "answer (%s); reconnecting",
                    self._channel,
                    time.monotonic() - self._last_heard,
                    exc,
                )
            await asyncio.sleep(delay)
            delay = min(delay * 2, longest)

    async def _serve(self, conn: Connection) -> None:
        """Wake the subscribers on every notification; probe the link between waits.

        Notifications that arrive during the probe wait in psycopg's backlog for the
        next ``notifies()``, so none is missed by stepping out to probe.
        """
        while True:
            async for _ in conn.notifies(timeout=self._heartbeat):
                self._last_heard = time.monotonic()
                self._on_wake()
            # The heartbeat: one round trip on this very connection. A silent link
            # (black hole, replies dropped) raises CallTimeout: a StoreUnavailable.
            await bounded(conn.execute("SELECT 1"), self._timeout, "PostgreSQL LISTEN heartbeat")
            self._last_heard = time.monotonic()
