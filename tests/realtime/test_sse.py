"""Server-Sent Events against real ``headwater serve`` processes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import orjson
import pytest

from headwater.testing._server import RunningServer
from tests.realtime.conftest import Nodes
from tests.realtime.support import append, unique

pytestmark = pytest.mark.anyio


class SseReader:
    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._lines = response.aiter_lines()
        self.comments = 0

    async def next(self) -> dict[str, Any]:
        """The next message: {"event", "id", "data"}; keep-alive comments are counted."""
        fields: dict[str, Any] = {}
        async for line in self._lines:
            if line.startswith(":"):
                self.comments += 1
            elif not line:
                if "data" in fields:
                    fields["data"] = orjson.loads(fields["data"])
                    return fields
                fields = {}
            else:
                name, _, value = line.partition(":")
                fields[name] = value.removeprefix(" ")
        raise AssertionError("the stream ended")

    async def events(self, count: int) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        while len(found) < count:
            message = await self.next()
            if message.get("event") == "event":
                found.append(message)
        return found


@asynccontextmanager
async def sse(
    server: RunningServer, *channels: str, token: str = "alice-token", **headers: str
) -> AsyncIterator[SseReader]:
    async with (
        httpx.AsyncClient(base_url=server.url, timeout=10) as client,
        client.stream(
            "GET",
            "/realtime/sse",
            params=[("channel", c) for c in channels],
            headers={"authorization": f"Bearer {token}", **headers},
        ) as response,
    ):
        assert response.status_code == 200, await response.aread()
        yield SseReader(response)


async def test_sse_streams_events_with_ids_and_resumes_with_last_event_id(nodes: Nodes) -> None:
    writer, reader = nodes
    stream = unique("order")
    async with sse(reader, f"stream:{stream}") as events:
        assert events.response.headers["content-type"].startswith("text/event-stream")
        assert "no-transform" in events.response.headers["cache-control"]
        assert (await events.next())["event"] == "welcome"
        assert (await events.next())["event"] == "subscribed"
        first = await append(writer, stream, 3)
        got = await events.events(3)
    assert [int(e["id"]) for e in got] == first
    assert [e["data"]["event"]["data"]["n"] for e in got] == [0, 1, 2]
    missed = await append(writer, stream, 4)
    async with sse(reader, f"stream:{stream}", **{"Last-Event-ID": got[-1]["id"]}) as events:
        later = await append(writer, stream, 2)
        resumed = await events.events(6)
    assert [int(e["id"]) for e in resumed] == missed + later


async def test_sse_merges_channels_in_position_order_without_duplicates(
    node: RunningServer,
) -> None:
    prefix = unique("cart")
    written = await append(node, f"{prefix}-1", 2) + await append(node, f"{prefix}-2", 2)
    # The stream channel and its category both match the first stream: sent once.
    async with sse(
        node, f"stream:{prefix}-1", f"category:{prefix}", **{"Last-Event-ID": str(written[0] - 1)}
    ) as events:
        got = await events.events(4)
    assert [int(e["id"]) for e in got] == written


async def test_sse_sends_keep_alive_comments(node: RunningServer) -> None:
    async with sse(node, f"stream:{unique('quiet')}") as events:
        async for line in events._lines:
            if line.startswith(": keep-alive"):
                break


@pytest.mark.parametrize(
    ("token", "channel", "headers", "status", "code"),
    [
        ("forged", "tenant", {}, 401, "unauthorized"),
        ("bob-token", "tenant", {}, 403, "forbidden"),
        ("alice-token", "nope:1", {}, 400, "unknown_channel"),
        ("alice-token", "tenant", {"Last-Event-ID": "abc"}, 400, "validation_failed"),
        ("alice-token", "tenant", {"Last-Event-ID": "999999999"}, 400, "validation_failed"),
    ],
)
async def test_sse_refusals(
    node: RunningServer,
    token: str,
    channel: str,
    headers: dict[str, str],
    status: int,
    code: str,
) -> None:
    acme_stream = unique("order")
    await append(node, acme_stream, 1)
    async with httpx.AsyncClient(base_url=node.url, timeout=10) as client:
        response = await client.get(
            "/realtime/sse",
            params={"channel": channel.format(acme_stream=acme_stream)},
            headers={"authorization": f"Bearer {token}", **headers},
        )
    assert response.status_code == status
    assert response.json()["error"]["code"] == code


async def test_plain_get_on_the_websocket_url_says_upgrade(node: RunningServer) -> None:
    async with httpx.AsyncClient(base_url=node.url) as client:
        response = await client.get("/realtime/ws")
        schema = (await client.get("/openapi.json")).json()
    assert response.status_code == 426
    assert response.json()["error"]["code"] == "upgrade_required"
    description = schema["paths"]["/realtime/ws"]["get"]["description"]
    assert "from_position" in description
    assert "4008" in description
    assert "/realtime/sse" in schema["paths"]


async def test_sse_answers_another_tenants_stream_like_an_unknown_one(node: RunningServer) -> None:
    acme_stream = unique("order")
    await append(node, acme_stream, 1)
    for channel in (f"stream:{acme_stream}", f"stream:{unique('nothing')}"):
        async with sse(node, channel, token="eve-token", **{"Last-Event-ID": "0"}) as events:
            assert (await events.next())["event"] == "welcome"
            assert (await events.next())["event"] == "subscribed"
    # Nor do live events of acme's stream reach eve.
    async with sse(node, f"stream:{acme_stream}", token="eve-token") as events:
        await events.next()
        await events.next()
        await append(node, acme_stream, 1)
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.5):
                await events.events(1)
