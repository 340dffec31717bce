"""An error on a WebSocket scope ends in a close frame with a defined code, never in an
HTTP response (which uvicorn refuses on a WebSocket: an ASGI protocol error).

Through FastAPI's exception handlers (a Headwater error raised in a WebSocket route)
and through the error boundary (anything else): 1013 when a backend is unavailable,
1008 for a refusal, 1011 for a bug, each with a reason.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from fastapi import APIRouter, WebSocket
from fastapi.testclient import TestClient
from starlette.routing import WebSocketRoute
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocketDisconnect

from headwater.app import create_app
from headwater.errors import Forbidden, StoreUnavailable
from headwater.modules import Module
from tests.http.support import make_settings


async def _raw_bug(scope: Scope, receive: Receive, send: Send) -> None:
    await receive()
    raise ValueError("a bug before the handshake")


class SocketsModule(Module):
    name = "ws-errors"

    def routers(self) -> Sequence[APIRouter]:
        router = APIRouter()

        @router.websocket("/ws/unavailable")
        async def unavailable(websocket: WebSocket) -> None:
            await websocket.accept()
            raise StoreUnavailable("the event store cannot be reached")

        @router.websocket("/ws/forbidden")
        async def forbidden(websocket: WebSocket) -> None:
            raise Forbidden("not yours")  # before the handshake

        @router.websocket("/ws/bug")
        async def bug(websocket: WebSocket) -> None:
            await websocket.accept()
            raise RuntimeError("a bug after the handshake")

        router.routes.append(WebSocketRoute("/ws/raw-bug", _raw_bug))
        return [router]


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    app = create_app(make_settings(tmp_path), apps=[SocketsModule()])
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.mark.parametrize(
    ("path", "code", "reason"),
    [
        ("/ws/unavailable", 1013, "the event store cannot be reached"),
        ("/ws/forbidden", 1008, "not yours"),
        ("/ws/bug", 1011, "internal error"),
        ("/ws/raw-bug", 1011, "internal error"),
    ],
)
def test_an_error_on_a_websocket_closes_it_with_a_code(
    client: TestClient, path: str, code: int, reason: str
) -> None:
    with client.websocket_connect(path) as ws, pytest.raises(WebSocketDisconnect) as closed:
        ws.receive_text()
    assert closed.value.code == code
    assert closed.value.reason == reason
