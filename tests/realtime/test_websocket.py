"""The WebSocket protocol against real ``headwater serve`` processes and a real client."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest

from headwater.testing._server import RunningServer
from tests.realtime.conftest import Nodes
from tests.realtime.support import append, closed_with, positions, unique, ws_client

pytestmark = pytest.mark.anyio


async def test_subscriber_receives_events_in_order_with_their_positions(nodes: Nodes) -> None:
    writer, reader = nodes
    stream = unique("order")
    async with ws_client(reader) as client:
        subscribed = await client.subscribe(f"stream:{stream}")
        written = await append(writer, stream, 5)
        events = await client.events(5)
    assert positions(events) == written
    assert all(e["channel"] == f"stream:{stream}" for e in events)
    assert [e["event"]["version"] for e in events] == [1, 2, 3, 4, 5]
    assert [e["event"]["data"]["n"] for e in events] == [0, 1, 2, 3, 4]
    assert subscribed["position"] < written[0]


async def test_resume_after_disconnect_has_no_gap_and_no_duplicate(nodes: Nodes) -> None:
    writer, reader = nodes
    stream = unique("order")
    async with ws_client(reader) as client:
        await client.subscribe(f"stream:{stream}")
        before = await append(writer, stream, 3)
        seen = positions(await client.events(3))
    # Disconnected: the stream moves on, and other streams interleave in the log.
    missed = await append(writer, stream, 4)
    await append(writer, unique("other"), 2)
    async with ws_client(reader) as client:
        await client.subscribe(f"stream:{stream}", from_position=seen[-1])
        # Appended while the catch-up may still be running: live must follow, in order.
        later = await append(writer, stream, 3)
        resumed = positions(await client.events(7))
        assert await client.quiet() == []
    assert seen == before
    assert resumed == missed + later


async def test_resume_from_zero_replays_the_whole_stream_then_goes_live(nodes: Nodes) -> None:
    writer, reader = nodes
    stream = unique("order")
    history = await append(writer, stream, 30)
    async with ws_client(reader) as client:
        await client.subscribe(f"stream:{stream}", from_position=0)
        live = await append(writer, stream, 2)
        got = positions(await client.events(32))
    assert got == history + live


async def test_category_and_tenant_channels_follow_many_streams(node: RunningServer) -> None:
    prefix = unique("cart")
    async with ws_client(node) as client:
        await client.subscribe(f"category:{prefix}")
        await client.subscribe("tenant")
        one = await append(node, f"{prefix}-1", 1)
        two = await append(node, f"{prefix}-2", 1)
        await append(node, f"{prefix}x-3", 1)  # not in the category: "prefix-" only
        got = [(e["channel"], e["position"]) for e in await client.events(5)]
    category = [p for c, p in got if c.startswith("category:")]
    assert category == one + two
    assert len([c for c, _ in got if c == "tenant"]) == 3


async def test_another_tenants_stream_answers_like_an_unknown_one_and_delivers_nothing(
    node: RunningServer,
) -> None:
    stream = unique("order")
    await append(node, stream, 1, token="alice-token")
    async with ws_client(node, "eve-token") as eve:
        # The same answer as for a stream that does not exist: no existence oracle.
        answers = []
        for channel in (f"stream:{stream}", f"stream:{unique('nothing')}"):
            await eve.send(type="subscribe", channel=channel, from_position=0)
            answers.append(await eve.expect("subscribed"))
        assert [sorted(a) for a in answers] == [["channel", "position", "type"]] * 2
        # Neither history nor live events of acme's stream reach eve, nor her tenant feed.
        await eve.subscribe("tenant")
        await append(node, stream, 2, token="alice-token")
        assert await eve.quiet() == []


async def test_security_events_and_streams_never_reach_a_client(node: RunningServer) -> None:
    account = unique("account")  # a security stream: account-<id>
    secret = {"password_hash": "$argon2id$v=19$..."}
    async with ws_client(node, "carol-token") as carol:
        await carol.subscribe("tenant")
        # (A type the security projection ignores, so the raw append goes through.)
        hidden = await append(node, account, 1, type="hw.test.secret", data=secret)
        shown = await append(node, unique("order"), 1)
        live = positions(await carol.events(1))
        for channel in (f"stream:{account}", "category:account", "category:apikey"):
            await carol.send(type="subscribe", channel=channel)
            assert (await carol.expect("error"))["code"] == "forbidden"
    # Nor from history: a resume across the security event skips it.
    async with ws_client(node, "carol-token") as carol:
        await carol.subscribe("tenant", from_position=hidden[0] - 1)
        replayed = positions(await carol.events(1))
    assert live == shown
    assert replayed == shown


@pytest.mark.parametrize(
    ("token", "channel", "code"),
    [
        ("bob-token", "tenant", "forbidden"),  # a user may not follow the whole tenant
        ("alice-token", "admin", "forbidden"),  # staff is not an admin
        ("alice-token", "tenant:globex", "bad_channel"),  # a name never carries a tenant
        ("alice-token", "secrets:all", "unknown_channel"),
        ("alice-token", "stream:", "bad_channel"),
    ],
)
async def test_channel_policies_refuse(
    node: RunningServer, token: str, channel: str, code: str
) -> None:
    async with ws_client(node, token) as client:
        await client.send(type="subscribe", channel=channel)
        error = await client.expect("error")
    assert error["code"] == code


async def test_bad_token_closes_with_4001(node: RunningServer) -> None:
    async with ws_client(node, token=None) as client:
        await client.send(type="auth", token="forged")
        closed = await closed_with(client)
    assert closed.code == 4001


async def test_bearer_header_authenticates_at_the_handshake(node: RunningServer) -> None:
    headers = {"Authorization": "Bearer carol-token"}
    async with ws_client(node, token=None, additional_headers=headers) as client:
        welcome = await client.expect("welcome")
    assert (welcome["subject"], welcome["tenant_id"]) == ("carol", "acme")


async def test_cookie_session_from_a_foreign_origin_is_refused(node: RunningServer) -> None:
    headers = {"Cookie": "hw_session=alice-token"}
    async with ws_client(
        node, token=None, additional_headers=headers, origin="https://evil.example"
    ) as client:
        closed = await closed_with(client)
    assert closed.code == 4003


async def test_commands_before_auth_are_refused_and_ping_answers(node: RunningServer) -> None:
    async with ws_client(node, token=None) as client:
        await client.send(type="subscribe", channel="tenant")
        assert (await client.expect("error"))["code"] == "unauthenticated"
        await client.send(type="ping", id=7)
        pong = await client.expect("pong")
        await client.send(type="nonsense")
        assert (await client.expect("error"))["code"] == "bad_message"
        await client.ws.send("not json")
        assert (await client.expect("error"))["code"] == "bad_json"
    assert pong["id"] == 7


async def test_server_sends_heartbeats_to_quiet_connections(node: RunningServer) -> None:
    async with ws_client(node) as client:
        message = await client.recv(within=5)
    assert message["type"] == "heartbeat"


async def test_unsubscribe_stops_delivery(node: RunningServer) -> None:
    stream = unique("order")
    async with ws_client(node) as client:
        await client.subscribe(f"stream:{stream}")
        await client.send(type="unsubscribe", channel=f"stream:{stream}")
        assert (await client.expect("unsubscribed"))["channel"] == f"stream:{stream}"
        await append(node, stream, 2)
        assert await client.quiet() == []


async def test_presence_lists_members_and_pushes_joins_and_leaves(node: RunningServer) -> None:
    channel = f"stream:{unique('room')}"
    async with ws_client(node, "alice-token") as alice:
        await alice.subscribe(channel, presence=True)
        first = await alice.expect("presence")
        async with ws_client(node, "bob-token") as bob:
            await bob.subscribe(channel, presence=True)
            listed = await bob.expect("presence")
            joined = await alice.expect("presence")
            # A watcher without presence is neither listed nor announced.
            async with ws_client(node, "carol-token") as carol:
                await carol.subscribe(channel)
                assert await alice.quiet(0.3) == []
        left = await alice.expect("presence")
    assert [m["subject"] for m in first["members"]] == ["alice"]
    assert [m["subject"] for m in listed["members"]] == ["alice", "bob"]
    assert joined["joined"] == "bob"
    assert left["left"] == "bob"
    assert [m["subject"] for m in left["members"]] == ["alice"]


async def test_admin_feed_maps_event_types_to_admin_names(node: RunningServer) -> None:
    async with ws_client(node, "carol-token") as carol:
        await carol.subscribe("admin")
        stream = unique("user")
        await append(node, stream, 1, type="UserRegistered", token="carol-token")
        await append(node, stream, 1, type="Ignored", token="carol-token")
        event = await carol.expect("event")
        metrics = await carol.expect("notice", within=5)
    assert event["channel"] == "admin"
    assert event["event"]["name"] == "user.created"
    assert metrics["name"] == "metrics.updated"
    assert metrics["data"]["connections"] >= 1


async def test_topic_pushes_are_throttled_and_carry_the_latest_state(
    node: RunningServer,
) -> None:
    key = unique("game")
    async with ws_client(node, "bob-token") as bob:
        await bob.subscribe(f"counter:{key}")
        initial = await bob.expect("topic")
        for _ in range(10):
            await append(node, f"counter-{key}", 1, type="Incremented", token="bob-token")
        pushes: list[dict[str, Any]] = []
        while not pushes or pushes[-1]["data"]["count"] < 10:
            pushes.append(await bob.expect("topic"))
    assert initial["data"] == {"count": 0}
    # Ten appends in well under a second, at most one push per 0.5 s.
    assert len(pushes) <= 3
    assert pushes[-1]["data"] == {"count": 10}


async def test_slow_client_is_closed_with_4008_while_others_keep_up(nodes: Nodes) -> None:
    writer, reader = nodes
    stream = unique("flood")
    channel = f"stream:{stream}"
    total, batch = 1200, 200
    async with (
        ws_client(reader) as fast,
        ws_client(reader, rcvbuf=4096, max_queue=2) as slow,
    ):
        await fast.subscribe(channel)
        await slow.subscribe(channel)
        # The slow client now stops reading: its window closes, the kernel buffers fill
        # (a few MB on loopback), the server queues, then
        # gives up on it. The fast client reads all along and must get everything.
        fast_reader = asyncio.create_task(fast.events(total, within=20))
        written: list[int] = []
        for _ in range(total // batch):
            written += await append(writer, stream, batch, data={"pad": "x" * 4000})
        got_fast = positions(await fast_reader)
        closed = await closed_with(slow, within=20)
    assert got_fast == written
    assert closed.code == 4008
    resync_from = orjson.loads(closed.reason)["resync_from"]
    # What reached the slow client is a prefix of the stream ending at resync_from...
    got_slow = [m["position"] for m in closed.messages if m["type"] == "event"]
    assert got_slow == written[: len(got_slow)]
    assert resync_from == got_slow[-1] < written[-1]
    # ...and resuming from it yields exactly the rest.
    async with ws_client(reader) as again:
        await again.subscribe(channel, from_position=resync_from)
        rest = positions(await again.events(total - len(got_slow), within=20))
    assert got_slow + rest == written
