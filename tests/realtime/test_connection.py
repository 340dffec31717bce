"""The connection state machine and its bounded, eagerly-sent queue."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest

from headwater.realtime import Channel, CloseCode, Connection, ConnectionState, IllegalTransition
from headwater.realtime._frames import event_frame
from headwater.realtime._subscription import Cursor, Subscription
from headwater.testing._realtime import TOKENS

pytestmark = pytest.mark.anyio


class Transport:
    """An ASGI send that blocks while "paused", like uvicorn's above its high-water mark."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.writable = asyncio.Event()
        self.writable.set()

    async def send(self, message: dict[str, Any]) -> None:
        await self.writable.wait()
        self.sent.append(message)

    def positions(self) -> list[int]:
        return [orjson.loads(m["text"])["position"] for m in self.sent if "text" in m]


def connected(transport: Transport, max_queue: int = 4) -> tuple[Connection, Subscription]:
    conn = Connection(transport.send, connection_id="c1", max_queue=max_queue)
    conn.authenticate(TOKENS["alice-token"], None)
    sub = Subscription(conn, Channel("stream", "s-1"), Cursor(0, 100))
    conn.subscriptions[sub.name] = sub
    return conn, sub


def state_of(conn: Connection) -> ConnectionState:
    # A function, so the type checker does not carry a narrowed state across calls.
    return conn.state


def frame(position: int) -> Any:
    return event_frame("stream:s-1", position, "{}")


async def test_legal_transitions_and_illegal_ones_raise() -> None:
    conn = Connection(Transport().send, connection_id="c1", max_queue=4)
    assert conn.state is ConnectionState.CONNECTING
    with pytest.raises(IllegalTransition):
        conn._transition(ConnectionState.CONNECTING)
    conn.authenticate(TOKENS["alice-token"], None)
    with pytest.raises(IllegalTransition):
        conn.authenticate(TOKENS["alice-token"], None)
    conn.close(CloseCode.NORMAL)
    assert state_of(conn) is ConnectionState.CLOSING
    with pytest.raises(IllegalTransition):
        conn._transition(ConnectionState.AUTHENTICATED)
    conn.closed()
    assert state_of(conn) is ConnectionState.CLOSED
    with pytest.raises(IllegalTransition):
        conn._transition(ConnectionState.CLOSING)


async def test_a_ready_transport_gets_frames_without_the_loop_running() -> None:
    transport = Transport()
    conn, sub = connected(transport)
    for position in range(1, 11):
        sub.offer(frame(position))
    # No await happened: every send completed eagerly, in order.
    assert transport.positions() == list(range(1, 11))
    assert sub.delivered == 10
    assert conn.queued == 0


async def test_a_paused_transport_queues_then_drains_in_order() -> None:
    transport = Transport()
    conn, sub = connected(transport)
    transport.writable.clear()
    for position in range(1, 4):
        sub.offer(frame(position))
    assert transport.positions() == []
    assert conn.queued == 3
    transport.writable.set()
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert transport.positions() == [1, 2, 3]
    assert conn.queued == 0


async def test_overflow_closes_with_4008_and_the_last_delivered_position() -> None:
    transport = Transport()
    conn, sub = connected(transport, max_queue=4)
    sub.offer(frame(1))
    transport.writable.clear()
    for position in range(2, 10):  # 2 in flight, 3..6 queued, 7 overflows
        sub.offer(frame(position))
    assert conn.state is ConnectionState.CLOSING
    transport.writable.set()
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    close = transport.sent[-1]
    # The queue was dropped (memory stays flat) and the send stuck on the client was
    # abandoned: the close is the next thing it reads, and it resumes after 1.
    assert transport.positions() == [1]
    assert close["type"] == "websocket.close"
    assert close["code"] == 4008
    assert orjson.loads(close["reason"]) == {"resync_from": 1}


async def test_resync_after_a_rewind_names_no_position_above_the_rewind() -> None:
    transport = Transport()
    conn, sub = connected(transport)
    sub.offer(frame(1))
    transport.writable.clear()
    sub.offer(frame(2))  # in flight when the log turns out to be rewound to 1
    conn.resync(1)
    transport.writable.set()
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    close = transport.sent[-1]
    # The send in flight is abandoned by the close (as for an overflow); either way the
    # client is sent back to 1, never past the rewind.
    assert transport.positions() == [1]
    assert close["code"] == 4008
    assert orjson.loads(close["reason"]) == {"resync_from": 1}


async def test_put_waits_for_room() -> None:
    transport = Transport()
    conn, sub = connected(transport, max_queue=4)
    transport.writable.clear()
    sub.offer(frame(1))  # in flight
    await conn.put(frame(2), sub)
    await conn.put(frame(3), sub)
    blocked = asyncio.create_task(conn.put(frame(4), sub))
    await asyncio.sleep(0.01)
    assert not blocked.done()
    transport.writable.set()
    await asyncio.wait_for(blocked, 1)
    await asyncio.sleep(0.01)
    assert transport.positions() == [1, 2, 3, 4]
