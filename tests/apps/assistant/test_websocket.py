"""Replies over the realtime hub's WebSocket: the reply stream is a channel, resumed by
position after a dropped connection, with nothing repeated or skipped."""

from __future__ import annotations

import time
from typing import Any

import orjson
from websockets.sync.client import ClientConnection, connect

from tests.apps.assistant.conftest import World
from tests.apps.assistant.support import ask, check_sequence, stream

TERMINAL = ("assistant.ReplyCompleted", "assistant.ReplyFailed", "assistant.ReplyCancelled")


def _follow(
    world: World, user: dict[str, str], reply_id: str, after: int, most: int | None
) -> list[dict[str, Any]]:
    """Events of the reply's channel after log position ``after``: ``most`` of them, or
    up to the terminal one."""
    got: list[dict[str, Any]] = []
    with connect(f"{world.server.ws_url}/realtime/ws", additional_headers=user) as ws:
        assert orjson.loads(ws.recv(timeout=10))["type"] == "welcome"
        channel = f"stream:assistantreply-{reply_id}"
        subscribe = {"type": "subscribe", "channel": channel, "from_position": after}
        ws.send(orjson.dumps(subscribe).decode())
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            message = _next(ws, deadline)
            if message.get("type") == "error":
                raise AssertionError(message)
            if message.get("type") != "event":
                continue
            got.append(message["event"])
            if got[-1]["type"] in TERMINAL or (most is not None and len(got) >= most):
                return got
    raise AssertionError(f"the reply did not end: {got[-3:]}")


def _next(ws: ClientConnection, deadline: float) -> dict[str, Any]:
    message: dict[str, Any] = orjson.loads(ws.recv(timeout=max(0.01, deadline - time.monotonic())))
    return message


def test_a_reply_resumes_over_the_websocket_by_position(world: World) -> None:
    user = world.a.alice
    _, reply_id = ask(world.http, user, "What does the realtime hub do with channels?")
    first = _follow(world, user, reply_id, 0, most=2)
    rest = _follow(world, user, reply_id, first[-1]["position"], most=None)
    events = first + rest
    versions = [e["version"] for e in events]
    assert versions == list(range(1, len(events) + 1))
    assert events[-1]["type"] == "assistant.ReplyCompleted"
    text = "".join(e["data"]["text"] for e in events if e["type"] == "assistant.ReplyChunk")
    # The same reply over SSE: the same text, event for event.
    assert check_sequence(stream(world.http, user, reply_id)) == text


def test_only_the_asker_may_follow_a_reply_over_the_websocket(world: World) -> None:
    """Bob, of the same tenant, who learns Alice's reply id, is refused its channel; the
    REST and SSE routes already answer him 404."""
    _, reply_id = ask(world.http, world.a.alice, "What does the realtime hub do with channels?")
    with connect(f"{world.server.ws_url}/realtime/ws", additional_headers=world.a.bob) as ws:
        assert orjson.loads(ws.recv(timeout=10))["type"] == "welcome"
        channel = f"stream:assistantreply-{reply_id}"
        ws.send(orjson.dumps({"type": "subscribe", "channel": channel}).decode())
        deadline = time.monotonic() + 10
        answer = _next(ws, deadline)
        while answer.get("type") not in ("error", "subscribed"):
            answer = _next(ws, deadline)
    assert answer["type"] == "error", answer
    # Alice still follows it to its end.
    events = _follow(world, world.a.alice, reply_id, 0, most=None)
    assert events[-1]["type"] == "assistant.ReplyCompleted"
