"""One WebSocket connection: its state machine and its bounded outgoing queue.

Sending is *eager*: the hub calls :meth:`Connection.push` for every subscriber of an
event, and the ASGI ``send`` coroutine is stepped right there. uvicorn's send only
suspends when the transport's buffer is above its high-water mark, so on a healthy
connection it completes without ever yielding, and fan-out to N connections costs N
function calls instead of N task wake-ups; an idle connection needs no writer task.
When a send does suspend, :class:`_PendingSend` finishes it from its future's callback
(the way ``asyncio.Task`` steps a coroutine) and later frames wait in the queue. A
queue that reaches ``max_queue`` means the client is too slow: it is closed with code
4008 and ``{"resync_from": P}``, P being the last position handed to its transport.
"""

from __future__ import annotations

import asyncio
import enum
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Final, TypeAlias

from headwater.errors import IllegalTransition
from headwater.identity._principal import ANONYMOUS, Principal
from headwater.realtime._frames import Frame, dumps
from headwater.realtime._subscription import Subscription

Send: TypeAlias = Callable[[dict[str, Any]], Awaitable[None]]


class ConnectionState(enum.Enum):
    CONNECTING = "connecting"  # accepted, identity not yet established
    AUTHENTICATED = "authenticated"  # may subscribe; receives frames
    CLOSING = "closing"  # close frame queued or sent; nothing else goes out
    CLOSED = "closed"  # the client is gone; the connection is forgotten


_TRANSITIONS: Final[dict[ConnectionState, frozenset[ConnectionState]]] = {
    ConnectionState.CONNECTING: frozenset(
        {ConnectionState.AUTHENTICATED, ConnectionState.CLOSING, ConnectionState.CLOSED}
    ),
    ConnectionState.AUTHENTICATED: frozenset({ConnectionState.CLOSING, ConnectionState.CLOSED}),
    ConnectionState.CLOSING: frozenset({ConnectionState.CLOSED}),
    ConnectionState.CLOSED: frozenset(),
}
_OPEN: Final = frozenset({ConnectionState.CONNECTING, ConnectionState.AUTHENTICATED})
# (The hot path reads a plain boolean kept by _transition: hashing an Enum member for
# a set lookup is a Python-level call, once per subscriber per event.)


class CloseCode(enum.IntEnum):
    NORMAL = 1000
    GOING_AWAY = 1001
    #: A command the server's policy refuses outright (a forbidden operation).
    POLICY_VIOLATION = 1008
    #: A bug on the server: the client may reconnect, the error is logged.
    INTERNAL_ERROR = 1011
    #: The event store (or another backend) cannot be reached: come back later.
    TRY_AGAIN_LATER = 1013
    IDLE_TIMEOUT = 4000
    UNAUTHORIZED = 4001
    PROTOCOL_ERROR = 4002
    FORBIDDEN_ORIGIN = 4003
    TOO_SLOW = 4008


class _PendingSend:
    """A send that suspended: resumed from its future's done-callback, like a Task step."""

    __slots__ = ("conn", "coro", "frame", "sub")

    def __init__(
        self,
        conn: Connection,
        coro: Coroutine[Any, Any, None],
        yielded: object,
        frame: Frame | None,
        sub: Subscription | None,
    ) -> None:
        self.conn = conn
        self.coro = coro
        self.frame = frame
        self.sub = sub
        self._wait(yielded)

    def _wait(self, yielded: object) -> None:
        if yielded is None:
            # A bare ``yield`` (asyncio.sleep(0)): step again on the next loop turn.
            asyncio.get_running_loop().call_soon(self._step)
        elif asyncio.isfuture(yielded):
            # The Task protocol: a yielded future is marked "blocking"; clear the mark
            # and resume the coroutine once it is done (it then reads the result itself).
            yielded._asyncio_future_blocking = False
            yielded.add_done_callback(self._step)
        else:
            self.coro.close()
            raise RuntimeError(f"send yielded {yielded!r}, which is not an asyncio future")

    def _step(self, _: object = None) -> None:
        if self.conn._pending is not self:
            return  # cancelled meanwhile
        try:
            yielded = self.coro.send(None)
        except StopIteration:
            self.conn._resumed(self, None)
        except Exception as exc:
            self.conn._resumed(self, exc)
        else:
            self._wait(yielded)

    def cancel(self) -> None:
        # Runs the coroutine's finally blocks (e.g. an Event.wait removes its waiter).
        self.coro.close()


class Connection:
    """A client's WebSocket: what the hub pushes to, and what the sweeper watches."""

    # Slots: thousands of these live at once, mostly idle.
    __slots__ = (
        "_clock",
        "_close_reason",
        "_close_sent",
        "_max_queue",
        "_open",
        "_pending",
        "_pending_since",
        "_queue",
        "_resync_cap",
        "_room",
        "_send",
        "_state",
        "close_code",
        "expires_at",
        "heartbeat_mark",
        "id",
        "last_received",
        "opened_at",
        "principal",
        "sent_count",
        "subscriptions",
        "tasks",
    )

    def __init__(
        self,
        send: Send,
        *,
        connection_id: str,
        max_queue: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.id = connection_id
        self.principal: Principal = ANONYMOUS
        self.subscriptions: dict[str, Subscription] = {}
        #: Catch-up and topic-priming tasks by channel name, cancelled on unsubscribe.
        self.tasks: dict[str, asyncio.Task[None]] = {}
        #: Seconds since the epoch after which the credential is no longer valid.
        self.expires_at: float | None = None
        self._send = send
        self._clock = clock
        self.opened_at = clock()
        self.last_received = self.opened_at
        #: Frames handed to the transport: the sweeper compares it between rounds
        #: to see who got nothing lately and needs a heartbeat.
        self.sent_count = 0
        self.heartbeat_mark = 0
        self._state = ConnectionState.CONNECTING
        self._open = True
        self._max_queue = max_queue
        #: Frames behind a send in flight; created on first backlog (most never have one).
        self._queue: deque[tuple[Frame, Subscription | None]] | None = None
        self._pending: _PendingSend | None = None
        #: When the send in flight suspended (the transport stopped taking data).
        self._pending_since = 0.0
        self._close_reason = ""
        self._close_sent = False
        #: Set by a rewind of the log: no resync position may be above it.
        self._resync_cap: int | None = None
        self._room: list[asyncio.Future[None]] = []
        self.close_code: int | None = None

    # --- state machine ----------------------------------------------------------------

    @property
    def state(self) -> ConnectionState:
        return self._state

    def _transition(self, target: ConnectionState) -> None:
        if target not in _TRANSITIONS[self._state]:
            raise IllegalTransition("a connection", self._state.value, target.value)
        self._state = target
        self._open = target in _OPEN

    def authenticate(self, principal: Principal, expires_at: float | None) -> None:
        self._transition(ConnectionState.AUTHENTICATED)
        self.principal = principal
        self.expires_at = expires_at

    def refresh(self, principal: Principal, expires_at: float | None) -> None:
        """A new credential for the same identity (e.g. a refreshed access token)."""
        self.principal = principal
        self.expires_at = expires_at

    @property
    def is_open(self) -> bool:
        return self._open

    @property
    def is_authenticated(self) -> bool:
        return self._state is ConnectionState.AUTHENTICATED

    def touch(self) -> None:
        self.last_received = self._clock()

    def closed(self) -> None:
        """The client is gone (disconnect received): drop everything still queued."""
        if self._state is ConnectionState.CLOSED:
            return
        self._transition(ConnectionState.CLOSED)
        self._queue = None
        if self._pending is not None:
            pending, self._pending = self._pending, None
            pending.cancel()
        self._wake_room()

    # --- sending ------------------------------------------------------------------------

    @property
    def queued(self) -> int:
        return len(self._queue or ()) + (self._pending is not None)

    def push(self, frame: Frame, sub: Subscription | None = None) -> None:
        """Send now if nothing is in flight, else queue; called once per subscriber."""
        if not self._open:
            return
        queue = self._queue
        if self._pending is None and not queue:
            self._start(frame.message, frame, sub)
        elif queue is None:
            self._queue = deque([(frame, sub)])
        elif len(queue) >= self._max_queue:
            self.close(CloseCode.TOO_SLOW)
        else:
            queue.append((frame, sub))

    async def put(self, frame: Frame, sub: Subscription | None = None) -> None:
        """Push, but first wait until the queue is at most half full (paced history)."""
        while self.is_open and len(self._queue or ()) >= self._max_queue // 2:
            waiter = asyncio.get_running_loop().create_future()
            self._room.append(waiter)
            await waiter
        self.push(frame, sub)

    def stalled_for(self, now: float) -> float:
        """Seconds the send in flight has waited for the client to read (0: none waits)."""
        return now - self._pending_since if self._pending is not None else 0.0

    def resync_position(self) -> int:
        """Where a client must resume so that it misses nothing: the lowest delivered."""
        positions = [s.delivered for s in self.subscriptions.values() if s.ordered]
        return min(positions) if positions else 0

    def resync(self, position: int) -> None:
        """Close with 4008 and a ``resync_from`` no higher than ``position``: the log was
        rewound, so whatever this client got above it may no longer be in the log."""
        self._resync_cap = position if self._resync_cap is None else min(self._resync_cap, position)
        if self._state in _OPEN:
            self.close(CloseCode.TOO_SLOW)
        elif self.close_code is not None and not self._close_sent:
            self.close_code = CloseCode.TOO_SLOW  # a close still waiting for its send

    def unavailable(self, reason: str) -> None:
        self.close(CloseCode.TRY_AGAIN_LATER, reason)

    def close(self, code: int, reason: str = "") -> None:
        """Queue the close frame behind the send in flight; drop everything else.

        For 4008 the reason is ``{"resync_from": P}``, computed when the close frame
        is actually sent. A 4008 does not wait behind a send in flight: that send is
        stuck on a client that stopped reading, and the close must be the next thing
        the client finds when it reads again. It is abandoned, so its frame does not
        count as delivered: P may only be lower than what the client got (a repeat it
        drops by position), never higher (a gap). (uvicorn's send waits for the
        transport to take data before writing anything, so the frame is not sent.)
        """
        if self._state not in _OPEN:
            return
        self._transition(ConnectionState.CLOSING)
        self.close_code = code
        self._close_reason = reason
        self._queue = None
        self._wake_room()
        if self._pending is not None and code == CloseCode.TOO_SLOW:
            pending, self._pending = self._pending, None
            pending.cancel()
        if self._pending is None:
            self._send_close()

    def _send_close(self) -> None:
        if self._close_sent or self.close_code is None:
            return
        self._close_sent = True
        reason = self._close_reason
        if self.close_code == CloseCode.TOO_SLOW:
            resync_from = self.resync_position()
            if self._resync_cap is not None:
                resync_from = min(resync_from, self._resync_cap)
            reason = dumps({"resync_from": resync_from})
        message = {"type": "websocket.close", "code": int(self.close_code), "reason": reason}
        self._start(message, None, None)

    def _start(
        self, message: dict[str, Any], frame: Frame | None, sub: Subscription | None
    ) -> None:
        # The hot path of fan-out: no checks that cost (an ABC isinstance is ~0.3 us).
        coro: Coroutine[Any, Any, None] = self._send(message)  # type: ignore[assignment]
        try:
            yielded = coro.send(None)
        except StopIteration:
            self.sent_count += 1
            if sub is not None and frame is not None and frame.position is not None:
                sub.delivered = frame.position
            return
        except Exception as exc:
            self._failed(exc)
            return
        self._pending = _PendingSend(self, coro, yielded, frame, sub)
        self._pending_since = self._clock()

    def _resumed(self, pending: _PendingSend, exc: Exception | None) -> None:
        self._pending = None
        if exc is not None:
            self._failed(exc)
            return
        self.sent_count += 1
        frame, sub = pending.frame, pending.sub
        if sub is not None and frame is not None and frame.position is not None:
            sub.delivered = frame.position
        if self._state is ConnectionState.CLOSING:
            self._send_close()
            return
        queue = self._queue
        while queue and self._pending is None and self._open:
            frame, sub = queue.popleft()
            self._start(frame.message, frame, sub)
        if not queue:
            self._queue = None  # give the memory back
        if len(self._queue or ()) < self._max_queue // 2:
            self._wake_room()

    def _failed(self, exc: Exception) -> None:
        # The transport is gone (uvicorn raises ClientDisconnected); the receive loop
        # gets the disconnect and finishes the clean-up.
        self._queue = None
        if self._state in _OPEN:
            self._transition(ConnectionState.CLOSING)
        self._close_sent = True
        self._wake_room()

    def _wake_room(self) -> None:
        waiters, self._room = self._room, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    def __repr__(self) -> str:
        return f"Connection({self.id}, {self._state.value}, {self.principal.subject!r})"
