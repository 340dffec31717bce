"""A thin WebSocket/SSE client over real sockets, and the append helper the tests share."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from headwater.testing._server import RunningServer

#: Server messages a test usually does not wait for.
NOISE = frozenset({"heartbeat", "notice"})


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


async def append(
    server: RunningServer,
    stream_id: str,
    count: int = 1,
    *,
    token: str = "alice-token",
    **body: Any,
) -> list[int]:
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        response = await client.post(
            "/_test/append",
            json={"stream_id": stream_id, "count": count, **body},
            headers={"authorization": f"Bearer {token}"},
        )
    assert response.status_code == 200, response.text
    positions: list[int] = response.json()["positions"]
    return positions


@dataclass
class Client:
    ws: ClientConnection
    welcome: dict[str, Any] = field(default_factory=dict)

    async def send(self, **message: Any) -> None:
        await self.ws.send(orjson.dumps(message).decode())

    async def recv(self, within: float = 5.0) -> dict[str, Any]:
        raw = await asyncio.wait_for(self.ws.recv(), within)
        message: dict[str, Any] = orjson.loads(raw)
        return message

    async def expect(self, kind: str, within: float = 5.0) -> dict[str, Any]:
        """The next message of ``kind``, skipping heartbeats and notices."""
        while True:
            message = await self.recv(within)
            if message["type"] == kind:
                return message
            assert message["type"] in NOISE, f"expected {kind}, got {message}"

    async def subscribe(self, channel: str, **options: Any) -> dict[str, Any]:
        await self.send(type="subscribe", channel=channel, **options)
        return await self.expect("subscribed")

    async def events(self, count: int, within: float = 10.0) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        while len(found) < count:
            found.append(await self.expect("event", within))
        return found

    async def quiet(self, seconds: float = 0.3) -> list[dict[str, Any]]:
        """Everything but noise that arrives within ``seconds`` (expected: nothing)."""
        got = []
        try:
            while True:
                message = await self.recv(seconds)
                if message["type"] not in NOISE:
                    got.append(message)
        except TimeoutError:
            return got


@asynccontextmanager
async def ws_client(
    server: RunningServer,
    token: str | None = "alice-token",
    *,
    rcvbuf: int | None = None,
    **options: Any,
) -> AsyncIterator[Client]:
    sock = None
    if rcvbuf is not None:
        # A tiny receive window makes a client that stops reading back up quickly.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        sock.connect(("127.0.0.1", server.port))
        sock.setblocking(False)
    async with connect(
        f"{server.ws_url}/realtime/ws", sock=sock, compression=None, **options
    ) as ws:
        client = Client(ws)
        if token is not None:
            await client.send(type="auth", token=token)
            client.welcome = await client.expect("welcome")
        yield client


@dataclass
class Closed:
    code: int
    reason: str
    #: Every message received before the close frame.
    messages: list[dict[str, Any]]


async def closed_with(client: Client, within: float = 10.0) -> Closed:
    """Read until the server closes the connection."""
    messages = []
    try:
        while True:
            messages.append(orjson.loads(await asyncio.wait_for(client.ws.recv(), within)))
    except ConnectionClosed as exc:
        closed = exc
    assert closed.rcvd is not None, f"no close frame received: {closed!r}"
    return Closed(closed.rcvd.code, closed.rcvd.reason, messages)


def positions(events: list[dict[str, Any]]) -> list[int]:
    return [int(e["position"]) for e in events]
