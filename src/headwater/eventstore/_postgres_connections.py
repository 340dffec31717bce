"""How a PostgreSQL event store connects, and how long any of its calls may take.

A network can fail in ways no error reports: a black hole, replies dropped one way,
a peer that vanished. Without a bound, a call on such a link waits forever and so
does everything queued behind it. So:

* every connection asks the kernel to notice a dead peer: TCP keepalives for an idle
  link, ``tcp_user_timeout`` for data that is never acknowledged, and the server's
  ``client_connection_check_interval`` so a backend stops working for a client that
  has gone;
* every call has a deadline (:mod:`headwater.eventstore._deadline`), and a connection
  that missed one, or failed, or was interrupted, is closed rather than returned to
  the pool: what it was in the middle of is unknown;
* the pool checks a connection that sat idle before lending it, replaces connections
  after ``max_lifetime``, and gives up a failed replacement quickly: demand regrows
  the pool the moment the server answers again, instead of a replacement sleeping
  through an exponential back-off long after the link healed.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeAlias

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg.pq import TransactionStatus
from psycopg.rows import TupleRow
from psycopg_pool import AsyncConnectionPool, PoolClosed, PoolTimeout

from headwater.errors import CallTimeout, InvalidInput, StoreUnavailable
from headwater.eventstore._deadline import bounded
from headwater.eventstore._timeouts import PostgresTimeouts

log = logging.getLogger(__name__)

Connection: TypeAlias = psycopg.AsyncConnection[TupleRow]


def connection_options(conninfo: str, schema: str, timeouts: PostgresTimeouts) -> dict[str, Any]:
    """psycopg keyword arguments for every connection of a store.

    What the connection string already says wins, so an operator can tune any of it.
    """
    try:
        given = conninfo_to_dict(conninfo)
    except psycopg.ProgrammingError as exc:
        raise InvalidInput(f"invalid PostgreSQL connection string: {exc}") from exc
    # search_path: the store's schema only; TimeZone: timestamptz arrive as UTC.
    # client_connection_check_interval: a backend running a long statement for a
    # client that has gone notices within a second and stops.
    options = f'-c search_path="{schema}" -c TimeZone=UTC -c client_connection_check_interval=1000'
    if given.get("options"):
        options = f"{given['options']} {options}"
    wanted: dict[str, Any] = {
        "application_name": "headwater",
        # libpq counts whole seconds and at least 2; bounded() enforces the rest.
        "connect_timeout": max(2, math.ceil(timeouts.connect)),
        "keepalives": 1,
        "keepalives_idle": max(1, round(timeouts.keepalive_idle)),
        "keepalives_interval": max(1, round(timeouts.keepalive_interval)),
        "keepalives_count": timeouts.keepalive_count,
        "tcp_user_timeout": round(timeouts.tcp_user_timeout * 1000),
    }
    kwargs: dict[str, Any] = {"autocommit": True, "options": options}
    kwargs.update({key: value for key, value in wanted.items() if key not in given})
    return kwargs


def is_reusable(conn: Connection) -> bool:
    """Whether a connection may go back to the pool after an error: idle and unbroken."""
    return not conn.closed and conn.pgconn.transaction_status == TransactionStatus.IDLE


async def discard(conn: Connection) -> None:
    """Close a connection whose state is unknown. Never waits on the network: libpq
    sends its goodbye without blocking and drops the socket."""
    with contextlib.suppress(Exception):
        await conn.close()


class ConnectionPool:
    """The store's pooled connections: lent for a bounded time, discarded when in doubt."""

    def __init__(
        self,
        conninfo: str,
        kwargs: dict[str, Any],
        *,
        size: int,
        min_size: int = 1,
        timeouts: PostgresTimeouts,
        name: str,
        configure: Callable[[Connection], Awaitable[None]],
    ) -> None:
        self._timeouts = timeouts
        self._last_used: weakref.WeakKeyDictionary[Connection, float] = weakref.WeakKeyDictionary()
        #: Connections closed because a call on them missed its deadline, failed on
        #: the link, or was interrupted.
        self.discarded = 0
        #: Connections last used before this moment are checked before they are lent.
        self._suspect_before = 0.0
        self._pool: AsyncConnectionPool[Connection] = AsyncConnectionPool(
            conninfo,
            kwargs=kwargs,
            min_size=min_size,
            max_size=size,
            max_idle=timeouts.pool_max_idle,
            open=False,
            configure=configure,
            check=self._check,
            timeout=timeouts.pool,
            max_lifetime=timeouts.pool_max_lifetime,
            # A replacement that cannot connect gives up after about this long
            # (its pool slot is freed); the next request that needs a connection
            # grows the pool again, at once. psycopg_pool's own back-off doubles
            # from 1 s up to this limit, so a long one would leave the pool
            # asleep for many seconds after the database came back.
            reconnect_timeout=timeouts.connect,
            name=name,
        )

    async def open(self) -> None:
        try:
            await bounded(
                self._pool.open(wait=True, timeout=self._timeouts.connect),
                self._timeouts.connect + 1,
                "PostgreSQL connect",
            )
        except (psycopg.Error, PoolTimeout, CallTimeout) as exc:
            raise StoreUnavailable(f"cannot connect to PostgreSQL: {exc}") from exc

    async def _check(self, conn: Connection) -> None:
        """The pool's check before lending: only for connections that sat idle, so a
        busy node pays nothing; a link that died while idle is found here rather than
        by the request's own statement."""
        last_used = self._last_used.get(conn, 0.0)
        fresh = time.monotonic() - last_used < self._timeouts.pool_check_after_idle
        if fresh and last_used > self._suspect_before:
            return
        await bounded(conn.execute(""), min(1.0, self._timeouts.query), "PostgreSQL check")

    @contextlib.asynccontextmanager
    async def connection(self, wait: float | None = None) -> AsyncIterator[Connection]:
        """A pooled connection for one unit of work; closed instead of returned if the
        work ended in an error that leaves its state unknown (a missed deadline, a
        broken link, a cancellation, a transaction still open)."""
        conn = await self._pool.getconn(self._timeouts.pool if wait is None else wait)
        try:
            yield conn
        except BaseException:
            if not is_reusable(conn):
                await self._discard(conn)
            raise
        else:
            if not is_reusable(conn):  # pragma: no cover - work must end its transactions
                await self._discard(conn)
        finally:
            self._last_used[conn] = time.monotonic()
            # No network I/O here: the connection is idle, or closed (then the pool
            # counts it lost and starts a replacement).
            await self._pool.putconn(conn)

    async def _discard(self, conn: Connection) -> None:
        self.discarded += 1
        await discard(conn)

    def suspect_all(self) -> None:
        """Check every connection before its next use: one failed on the link, and its
        idle siblings (same server, same network) may well be dead too. Lazily, one
        bounded check each as they are lent, rather than ``pool.check()``, which takes
        them all out of the pool at once and loses them if it is interrupted."""
        self._suspect_before = time.monotonic()

    def stats(self) -> dict[str, int]:
        stats = self._pool.get_stats()
        return {
            "pool_size": stats.get("pool_size", 0),
            "pool_available": stats.get("pool_available", 0),
            "pool_max": stats.get("pool_max", 0),
            # Counters since the pool opened: the metrics take their deltas.
            "requests_num": stats.get("requests_num", 0),
            "requests_wait_ms": stats.get("requests_wait_ms", 0),
            "requests_waiting": stats.get("requests_waiting", 0),
            "connections_discarded": self.discarded,
        }

    async def close(self) -> None:
        with contextlib.suppress(CallTimeout):
            await bounded(
                self._pool.close(timeout=self._timeouts.close),
                self._timeouts.close + 1,
                "PostgreSQL pool close",
            )


#: Errors of pooled work that mean "the store cannot answer now".
POOL_ERRORS = (PoolTimeout, PoolClosed)
