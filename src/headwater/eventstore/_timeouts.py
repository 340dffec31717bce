"""How long each kind of PostgreSQL call may take: one object, built once from settings.

Kept apart from the PostgreSQL modules so the composition root can build it without
the optional ``psycopg`` dependency installed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

from headwater.errors import InvalidInput


@dataclass(frozen=True, slots=True)
class PostgresTimeouts:
    """Seconds each kind of PostgreSQL call may take. The defaults fail a request in a
    few seconds when the database is unreachable, never minutes."""

    #: Open one connection (psycopg waits at least 2 s; this bound can be shorter).
    connect: float = 2.0
    #: Wait for a pooled connection when all are busy (or none can be made): with the
    #: database down, what a request waits before its 503.
    pool: float = 1.5
    #: One read, query or statement, including the wait for its connection.
    query: float = 3.0
    #: One group commit of appends (the writer's deadline).
    append: float = 3.0
    #: One migration statement (DDL on a large table can legitimately take long).
    migration: float = 300.0
    #: Silence on the LISTEN connection after which a heartbeat checks it.
    listen_heartbeat: float = 3.0
    #: Unacknowledged data after which the kernel fails the connection.
    tcp_user_timeout: float = 5.0
    #: Idle time before TCP keepalive probes; then one every ``keepalive_interval``,
    #: and ``keepalive_count`` unanswered ones fail the connection.
    keepalive_idle: float = 5.0
    keepalive_interval: float = 2.0
    keepalive_count: int = 3
    #: Pooled connections are replaced after this long (spreads reconnects, follows
    #: a moved address or a failover without waiting for an error).
    pool_max_lifetime: float = 1800.0
    #: Pooled connections idle this long are closed (down to the pool's minimum size):
    #: a burst's extra connections do not stay open on the server for ever.
    pool_max_idle: float = 30.0
    #: A pooled connection idle for longer than this is checked before it is lent.
    pool_check_after_idle: float = 2.0
    #: Closing the store: queued appends get this long to finish on shutdown.
    close: float = 5.0

    def __post_init__(self) -> None:
        for spec in fields(self):
            value = getattr(self, spec.name)
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not math.isfinite(value)
                or value <= 0
            ):
                raise InvalidInput(f"timeout {spec.name} must be a positive number, not {value!r}")
