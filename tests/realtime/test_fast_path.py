"""The realtime socket skips the HTTP middleware (issue 24: bytes per idle socket),
while every other request, and the socket's own authentication, stay as they were."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocketDisconnect

from headwater.app import create_app
from headwater.modules import Module
from headwater.realtime import RealtimeModule
from headwater.testing._realtime import StaticTokenAuthenticator
from tests.http.support import make_settings


class _Recorder:
    """A plugin's middleware that notes every scope it is handed."""

    seen: list[tuple[str, str]]

    def __init__(self, app: ASGIApp, seen: list[tuple[str, str]]) -> None:
        self.app = app
        self.seen = seen

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            self.seen.append((scope["type"], scope["path"]))
        await self.app(scope, receive, send)


class _Recording(Module):
    name = "recording"

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    def middleware(self) -> Sequence[Middleware]:
        return (Middleware(_Recorder, seen=self.seen),)


@pytest.fixture
def app_parts(tmp_path: Path) -> tuple[TestClient, _Recording]:
    recording = _Recording()
    realtime = RealtimeModule(StaticTokenAuthenticator())
    app = create_app(make_settings(tmp_path), plugins=[recording, realtime])
    return TestClient(app), recording


def test_the_realtime_socket_passes_no_http_middleware(
    app_parts: tuple[TestClient, _Recording],
) -> None:
    client, recording = app_parts
    with client:
        assert client.get("/healthz").status_code == 200
        headers = {"authorization": "Bearer alice-token"}
        with client.websocket_connect("/realtime/ws", headers=headers) as socket:
            welcome = socket.receive_json()
            socket.send_json({"type": "subscribe", "channel": "tenant"})
            assert socket.receive_json()["type"] == "subscribed"
    assert welcome["type"] == "welcome"
    assert welcome["subject"] == "alice"
    assert ("http", "/healthz") in recording.seen
    assert not [seen for seen in recording.seen if seen[0] == "websocket"]


def test_the_socket_still_authenticates_itself(app_parts: tuple[TestClient, _Recording]) -> None:
    client, _ = app_parts
    with (
        client,
        pytest.raises(WebSocketDisconnect) as refused,
        client.websocket_connect(
            "/realtime/ws", headers={"authorization": "Bearer forged"}
        ) as socket,
    ):
        socket.receive_json()
    assert refused.value.code == 4001


def test_another_websocket_path_keeps_the_full_stack(
    app_parts: tuple[TestClient, _Recording],
) -> None:
    client, recording = app_parts
    with client, pytest.raises(WebSocketDisconnect), client.websocket_connect("/realtime/nope"):
        pass
    assert ("websocket", "/realtime/nope") in recording.seen
