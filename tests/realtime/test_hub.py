"""The hub in-process, on a real SQLite store: catch-up under pressure, topics, presence."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest

from headwater.eventstore import EventStore, NewEvent, create_event_store
from headwater.identity._principal import Principal
from headwater.realtime import Channel, ChannelRegistry, Hub, RealtimeConfig, TopicProvider
from headwater.realtime._frames import Frame
from headwater.realtime._sse import SseResponse, SseStream
from headwater.realtime._subscription import Subscription
from headwater.testing._realtime import TOKENS

pytestmark = pytest.mark.anyio


class Recorder:
    """A sink that records what it is given; ``put`` is slow, like a client on a slow link."""

    def __init__(self, principal: Principal, delay: float = 0.0) -> None:
        self._principal = principal
        self.delay = delay
        self.messages: list[dict[str, Any]] = []

    @property
    def principal(self) -> Principal:
        return self._principal

    @property
    def is_open(self) -> bool:
        return True

    def push(self, frame: Frame, sub: Subscription | None) -> None:
        self.messages.append(orjson.loads(frame.text))

    async def put(self, frame: Frame, sub: Subscription | None) -> None:
        await asyncio.sleep(self.delay)
        self.push(frame, sub)

    def resync(self, position: int) -> None:
        self.resynced_from = position

    def unavailable(self, reason: str) -> None:
        self.closed_because = reason

    resynced_from: int | None = None

    def positions(self) -> list[int]:
        return [m["position"] for m in self.messages if m["type"] == "event"]


@pytest.fixture
async def store() -> AsyncIterator[EventStore]:
    async with await create_event_store("sqlite:///:memory:") as opened:
        yield opened


async def started(store: EventStore, **config: Any) -> Hub:
    registry = ChannelRegistry()
    hub = Hub(store, registry, admin_events={}, config=RealtimeConfig(**config))
    await hub.start()
    return hub


async def settle(hub: Hub, store: EventStore) -> None:
    """Until the hub has routed everything committed so far."""
    head = await store.head_position()
    while hub.position < head:  # noqa: ASYNC110 - the hub exposes a value, not an event
        await asyncio.sleep(0.005)


async def test_catch_up_survives_its_live_buffer_overflowing(store: EventStore) -> None:
    for i in range(40):
        await store.append("s-1", NewEvent("T", {"i": i}), tenant_id="acme")
    await store.append("s-2", NewEvent("T", {}), tenant_id="acme")  # not this channel
    hub = await started(store, catchup_buffer=3)
    try:
        sink = Recorder(TOKENS["alice-token"], delay=0.002)
        subs, target = hub.subscribe(sink, [Channel("stream", "s-1")], from_position=10)
        assert target is not None
        catch_up = asyncio.create_task(hub.catch_up(subs, target))
        # Live events pile up far beyond the buffer while history is still being read.
        for i in range(40, 80):
            await store.append("s-1", NewEvent("T", {"i": i}), tenant_id="acme")
            await asyncio.sleep(0)
        await catch_up
        await settle(hub, store)
        positions = sink.positions()
        assert positions == sorted(set(positions))  # in order, no duplicate
        assert [p for p in positions] == [p for p in range(11, 82) if p != 41]  # no gap
    finally:
        await hub.stop()


async def test_events_of_another_tenant_never_reach_a_subscriber(store: EventStore) -> None:
    hub = await started(store)
    try:
        acme = Recorder(TOKENS["alice-token"])
        globex = Recorder(TOKENS["eve-token"])
        hub.subscribe(acme, [Channel("tenant")], from_position=None)
        hub.subscribe(globex, [Channel("tenant"), Channel("stream", "s-1")], from_position=0)
        await store.append("s-1", NewEvent("T", {}), tenant_id="acme")
        await store.append("s-1", NewEvent("T", {}), tenant_id="acme")
        await settle(hub, store)
        assert acme.positions() == [1, 2]
        assert globex.positions() == []
    finally:
        await hub.stop()


async def test_topics_push_at_most_once_per_interval_and_skip_unfollowed(
    store: EventStore,
) -> None:
    fetched: list[str] = []

    async def fetch(tenant: str | None, key: str) -> Any:
        fetched.append(key)
        return {"v": await store.stream_version(f"game-{key}")}

    hub = await started(store)
    hub.add_topic(
        TopicProvider(
            "board",
            fetch,
            frozenset({"Scored"}),
            key_of=lambda e: e.stream_id.partition("-")[2],
            interval=0.2,
        )
    )
    try:
        sink = Recorder(TOKENS["bob-token"])
        hub.subscribe(sink, [Channel("board", "1")], from_position=None)
        for _ in range(20):
            await store.append("game-1", NewEvent("Scored", {}), tenant_id="acme")
            await store.append("game-2", NewEvent("Scored", {}), tenant_id="acme")  # unfollowed
        await settle(hub, store)
        await asyncio.sleep(0.5)
        pushes = [m for m in sink.messages if m["type"] == "topic"]
        assert 1 <= len(pushes) <= 3
        assert pushes[-1]["data"] == {"v": 20}
        assert "2" not in fetched
    finally:
        await hub.stop()


async def rewind(store: EventStore, to: int) -> None:
    """The log as a failover that lost commits leaves it: later appends reuse positions."""
    async with store.transaction() as tx:
        await tx.execute("DELETE FROM hw_events WHERE position > ?", (to,))


async def test_a_rewound_log_resyncs_clients_past_it_and_routes_the_reissued_events(
    store: EventStore,
) -> None:
    for i in range(3):
        await store.append("s-1", NewEvent("T", {"i": i}), tenant_id="acme")
    hub = await started(store)
    try:
        ahead = Recorder(TOKENS["alice-token"])
        behind = Recorder(TOKENS["alice-token"])
        hub.subscribe(ahead, [Channel("stream", "s-1")], from_position=None)
        hub.subscribe(behind, [Channel("stream", "s-2")], from_position=None)
        for i in range(3, 6):
            await store.append("s-1", NewEvent("T", {"i": i}), tenant_id="acme")
        await settle(hub, store)
        assert ahead.positions() == [4, 5, 6]
        await rewind(store, 4)
        # New events take positions 5..8: without the check the hub would route only 7, 8.
        for i in range(4):
            await store.append("s-2", NewEvent("New", {"i": i}), tenant_id="acme")
        async with asyncio.timeout(10):
            while ahead.resynced_from is None:  # noqa: ASYNC110 - a recorder's attribute
                await asyncio.sleep(0.01)
            await settle(hub, store)
        assert ahead.resynced_from == 4
        assert hub.rewinds == [(4, 6)]
        # A client that saw nothing past the rewind stays and gets every reissued event.
        assert behind.resynced_from is None
        assert behind.positions() == [5, 6, 7, 8]
        assert hub.resume_point(6) == 4
        assert hub.resume_point(4) is None
        assert hub.resume_point(7) is None
    finally:
        await hub.stop()


async def test_an_sse_stream_past_a_rewind_ends_with_a_resync_event_that_moves_its_id(
    store: EventStore,
) -> None:
    for i in range(5):
        await store.append("s-1", NewEvent("T", {"i": i}), tenant_id="acme")
    hub = await started(store)
    try:
        principal = TOKENS["alice-token"]
        stream = SseStream(principal, max_queue=64)
        hub.subscribe(stream, [Channel("stream", "s-1")], from_position=None)
        await store.append("s-1", NewEvent("T", {}), tenant_id="acme")
        await settle(hub, store)
        stream.delivered = 6  # its writer task would set this once the frame is sent
        await rewind(store, 5)
        await store.append("s-2", NewEvent("New", {}), tenant_id="acme")
        async with asyncio.timeout(10):
            while stream.is_open:  # noqa: ASYNC110 - the stream exposes a value
                await asyncio.sleep(0.01)
        assert stream.resync_from == 5
        # A browser reconnecting with Last-Event-ID 6 (the lost event) is sent back to 5.
        sent: list[dict[str, Any]] = []

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        async def receive() -> dict[str, Any]:
            return {"type": "http.disconnect"}

        response = SseResponse(hub, principal, [Channel("stream", "s-1")], 6)
        await response({"type": "http"}, receive, send)
        body = b"".join(m.get("body", b"") for m in sent)
        assert body == b'id: 5\nevent: resync\ndata: {"resync_from":5}\n\n'
    finally:
        await hub.stop()
