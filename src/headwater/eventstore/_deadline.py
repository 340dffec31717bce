"""Deadlines for database calls that a silent network cannot stretch.

``asyncio.timeout`` cancels once, and psycopg answers the first cancellation of a
running query by asking the server to cancel it (over a new connection) and then
waiting for the reply, up to ten seconds in all; through a black-holed link neither
ever comes. A second cancellation makes psycopg close the connection at once (see
``AsyncConnection.wait``). So :func:`bounded` runs the call as a task, cancels it at
the deadline, leaves the server's own cancel a short grace, then cancels again: the
call ends within ``seconds + 2 * CANCEL_GRACE`` whatever the network does, and its
connection is either cleanly cancelled or closed, never left waiting mid-query.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Final, TypeVar

from headwater.errors import CallTimeout

T = TypeVar("T")

#: How long a timed-out call may take to honour its first cancellation (a healthy
#: server cancels a query in about a millisecond) before it is cut off.
CANCEL_GRACE: Final = 0.25


async def bounded(
    work: Awaitable[T],
    seconds: float,
    what: str,
    *,
    abandon: Callable[[T], Awaitable[None]] | None = None,
) -> T:
    """Await ``work`` for at most ``seconds``; past that, raise :class:`CallTimeout`.

    The caller's own cancellation is passed on the same way, so a caller that gives
    up (a client that went away, a shutdown) never waits on a dead link either. If
    ``work`` still produced a result nobody will take (a new connection, say),
    ``abandon`` gets it to release.
    """
    task = asyncio.ensure_future(work)
    try:
        done, _ = await asyncio.wait((task,), timeout=seconds)
    except asyncio.CancelledError:
        await _stop(task)
        finished = task.done() and not task.cancelled() and task.exception() is None
        if abandon is not None and finished:
            await abandon(task.result())
        raise
    if not done:
        await _stop(task)
        if not task.done() or task.cancelled() or task.exception() is not None:
            raise CallTimeout(what, seconds)
        # It finished between the deadline and the cancellation: its work is done
        # (a commit is committed), so say so rather than report it as lost.
    return task.result()


async def _stop(task: asyncio.Future[T]) -> None:
    """Cancel ``task``: once politely, then, after the grace, for good."""
    for _ in range(2):
        if task.done():
            break
        task.cancel()
        try:
            await asyncio.wait((task,), timeout=CANCEL_GRACE)
        except asyncio.CancelledError:
            task.cancel()  # cancelled ourselves meanwhile: cut it off, then go
            raise
    if task.done() and not task.cancelled():
        task.exception()  # retrieved: a late failure is not an unhandled one
