"""A subscription: one channel followed by one sink (a WebSocket connection or an SSE stream).

Every event frame carries its global position. A :class:`Cursor` remembers the last
position queued, so a frame at or below it is a duplicate and is dropped; while
history is being read (catch-up), live frames wait in the cursor's buffer instead.
"""

from __future__ import annotations

from collections import deque
from typing import Protocol

from headwater.identity._channels import Channel
from headwater.identity._principal import Principal
from headwater.realtime._frames import Frame


class Sink(Protocol):
    """Where frames go: :class:`~headwater.realtime._connection.Connection` or an SSE stream."""

    @property
    def principal(self) -> Principal: ...

    @property
    def is_open(self) -> bool: ...

    def push(self, frame: Frame, sub: Subscription | None) -> None:
        """Queue without waiting; a sink that cannot keep up closes itself (never blocks)."""

    async def put(self, frame: Frame, sub: Subscription | None) -> None:
        """Queue, waiting for room first: history is paced by the client, not dropped."""

    def resync(self, position: int) -> None:
        """Close, telling the client to resume from ``position`` (or from the last
        position it was handed, if lower): the log was rewound above it."""

    def unavailable(self, reason: str) -> None:
        """Close, telling the client to come back later: the event store is unavailable
        (a WebSocket closes with 1013, an SSE stream ends with an ``error`` event)."""


class Cursor:
    """The position a subscription (WebSocket) or a whole stream (SSE) has reached."""

    __slots__ = ("buffer", "buffer_limit", "last_sent", "overflowed")

    def __init__(self, last_sent: int, buffer_limit: int) -> None:
        #: Highest event position queued to the sink; later frames must be above it.
        self.last_sent = last_sent
        #: Live frames held back while history is read; None once live.
        self.buffer: deque[tuple[Frame, Subscription]] | None = None
        self.buffer_limit = buffer_limit
        #: The buffer overflowed and was dropped: history must be read further instead.
        self.overflowed = False

    @property
    def catching_up(self) -> bool:
        return self.buffer is not None

    def hold(self) -> None:
        """Start buffering live frames (before history is read)."""
        self.buffer = deque()
        self.overflowed = False


class Subscription:
    __slots__ = (
        "channel",
        "cursor",
        "delivered",
        "name",
        "ordered",
        "presence",
        "sink",
        "tenant_id",
    )

    def __init__(
        self,
        sink: Sink,
        channel: Channel,
        cursor: Cursor,
        *,
        presence: bool = False,
        ordered: bool = True,
    ) -> None:
        self.sink = sink
        self.channel = channel
        self.name = channel.name
        self.tenant_id = sink.principal.tenant_id
        self.cursor = cursor
        #: Whether this subscriber is shown in, and told about, the channel's presence.
        self.presence = presence
        #: Whether the channel carries events (positions); topics carry snapshots instead.
        self.ordered = ordered
        #: Highest event position handed to the transport: where a resync starts.
        self.delivered = cursor.last_sent

    @property
    def key(self) -> tuple[str | None, str]:
        return (self.tenant_id, self.name)

    def offer(self, frame: Frame) -> None:
        """Route one frame here. The hot path of fan-out: called once per subscriber."""
        position = frame.position
        if position is not None:
            cursor = self.cursor
            if position <= cursor.last_sent:
                return
            buffer = cursor.buffer
            if buffer is not None:
                if not cursor.overflowed:
                    buffer.append((frame, self))
                    if len(buffer) > cursor.buffer_limit:
                        # Keep memory flat: forget the buffer and read these from the store.
                        cursor.overflowed = True
                        buffer.clear()
                return
            cursor.last_sent = position
        self.sink.push(frame, self)

    def __repr__(self) -> str:
        return f"Subscription({self.name!r}, tenant={self.tenant_id!r})"
