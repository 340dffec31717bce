"""The realtime layer's knobs, as one frozen value passed to the module."""

from __future__ import annotations

from dataclasses import dataclass, fields

from headwater.errors import InvalidInput


@dataclass(frozen=True, slots=True)
class RealtimeConfig:
    #: Frames waiting for one slow connection before it is closed with 4008. Frames are
    #: shared between connections, so this bounds entries, not copies of messages.
    max_queue: int = 1024
    #: Seconds a frame may wait for a client that stopped reading before it is closed
    #: with 4008 (and ``resync_from``), even if its queue never fills; well below any
    #: protocol keep-alive that would drop it with a bare 1011 first.
    send_timeout: float = 15.0
    #: Live frames held per subscription while its history is read; past this the
    #: buffer is dropped and history is read further from the store instead.
    catchup_buffer: int = 10_000
    max_subscriptions: int = 100
    #: Largest client message accepted (client messages are small commands).
    max_message_bytes: int = 4096
    #: Seconds a new connection has to authenticate.
    auth_timeout: float = 10.0
    #: Seconds without any client message (a ``ping`` will do) before the server closes.
    idle_timeout: float = 60.0
    #: A ``heartbeat`` goes to connections that got nothing else for this long.
    heartbeat_interval: float = 20.0
    #: How often timeouts and expiries are checked.
    sweep_interval: float = 1.0
    #: Seconds between SSE keep-alive comments.
    sse_keepalive: float = 15.0
    sse_max_channels: int = 20
    #: Seconds between ``metrics.updated`` notices on followed admin feeds (0: never).
    metrics_interval: float = 5.0
    #: Deliveries written between two yields to the event loop while one event goes
    #: out to many sockets: one event to 20,000 never holds the loop for long.
    fanout_slice: int = 2000
    #: Store reads for subscribing clients (history, head checks) at once, node-wide:
    #: a subscribe storm takes at most this share of the store's connection pool.
    subscribe_store_reads: int = 4
    #: Seconds the store may stay unreachable before every client is closed with 1013
    #: (come back later, resuming from your position) and new ones are refused.
    outage_close_after: float = 5.0
    #: Freeze what start-up allocated out of the collector's reach and raise its
    #: thresholds (``gc.freeze``, ``gc.set_threshold``), so a node holding thousands
    #: of idle sockets is not paused for seconds by full collections.
    tune_gc: bool = True
    #: Origins (``https://host[:port]``) allowed to use a cookie session besides the
    #: server's own; a cookie-authenticated socket from elsewhere is refused (CSWSH).
    allowed_origins: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            if isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0:
                raise InvalidInput(f"realtime {item.name} must not be negative")
        if self.max_queue < 2:
            raise InvalidInput("realtime max_queue must be at least 2")
