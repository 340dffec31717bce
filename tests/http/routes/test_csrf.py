"""The dashboard's cookie session and its CSRF protection."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import APIRouter, WebSocket
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from headwater.app import create_app
from headwater.http._security import SecurityModule
from headwater.modules import Module
from headwater.settings import Settings
from tests.security.support import (
    ROOT_EMAIL,
    ROOT_PASSWORD,
    SECRET,
    login,
    make_app,
    security_config,
)

CREDENTIALS = {"email": ROOT_EMAIL, "password": ROOT_PASSWORD}


@pytest.fixture
def client(sqlite_url: str, tmp_path: Path) -> Iterator[TestClient]:
    """Over HTTPS: the session cookie is Secure, so a browser sends it over HTTPS only."""
    app = make_app(sqlite_url, tmp_path)
    with TestClient(app, base_url="https://testserver", raise_server_exceptions=False) as c:
        yield c


def open_session(client: TestClient) -> str:
    response = client.post("/auth/session", json=CREDENTIALS)
    assert response.status_code == 200, response.text
    token: str = response.json()["data"]["csrf_token"]
    return token


def test_the_session_cookie_is_httponly_lax_and_secure(client: TestClient) -> None:
    response = client.post("/auth/session", json=CREDENTIALS)
    cookies = response.headers.get_list("set-cookie")
    session = next(c for c in cookies if c.startswith("hw_session="))
    csrf = next(c for c in cookies if c.startswith("hw_csrf="))
    assert "HttpOnly" in session
    assert "SameSite=lax" in session
    assert "Secure" in session
    assert "HttpOnly" not in csrf  # the dashboard's script reads it


def test_secure_can_be_turned_off_for_plain_http_development(tmp_path: Path) -> None:
    app = make_app(
        f"sqlite:///{tmp_path / 'dev.db'}", tmp_path, security_config(cookie_secure=False)
    )
    with TestClient(app) as client:
        cookies = client.post("/auth/session", json=CREDENTIALS).headers.get_list("set-cookie")
    assert not any("Secure" in c for c in cookies)


def test_a_cookie_session_reads_without_a_token(client: TestClient) -> None:
    open_session(client)
    me = client.get("/auth/me")
    assert me.status_code == 200
    assert me.json()["data"]["credential"] == "session"


def test_an_unsafe_cookie_request_without_the_token_is_refused(client: TestClient) -> None:
    open_session(client)
    response = client.post("/admin/tenants", json={"name": "Acme"})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "csrf_failed"
    assert client.get("/admin/tenants").json()["data"] == []  # nothing was created


def test_an_unsafe_cookie_request_with_a_wrong_token_is_refused(client: TestClient) -> None:
    open_session(client)
    response = client.post("/admin/tenants", json={"name": "Acme"}, headers={"x-csrf-token": "x"})
    assert response.json()["error"]["code"] == "csrf_failed"


def test_an_unsafe_cookie_request_with_the_token_is_accepted(client: TestClient) -> None:
    token = open_session(client)
    response = client.post("/admin/tenants", json={"name": "Acme"}, headers={"x-csrf-token": token})
    assert response.status_code == 201
    assert client.get("/auth/session/csrf").json()["data"]["csrf_token"] == token


def test_a_token_of_another_session_does_not_work(client: TestClient) -> None:
    other = open_session(client)
    open_session(client)  # a new session replaces the cookie
    response = client.post("/admin/tenants", json={"name": "Acme"}, headers={"x-csrf-token": other})
    assert response.json()["error"]["code"] == "csrf_failed"


def test_bearer_requests_need_no_csrf_token_even_with_a_cookie(client: TestClient) -> None:
    open_session(client)
    token = login(client, ROOT_EMAIL, ROOT_PASSWORD)["access_token"]
    response = client.post(
        "/admin/tenants", json={"name": "Acme"}, headers={"authorization": f"Bearer {token}"}
    )
    assert response.status_code == 201


def test_session_logout_needs_the_token_and_ends_the_session(client: TestClient) -> None:
    token = open_session(client)
    assert client.post("/auth/session/logout").json()["error"]["code"] == "csrf_failed"
    response = client.post("/auth/session/logout", headers={"x-csrf-token": token})
    assert response.status_code == 200
    assert client.get("/auth/me").status_code == 401


def test_a_stolen_cookie_is_dead_after_logout(client: TestClient) -> None:
    token = open_session(client)
    stolen = client.cookies["hw_session"]
    client.post("/auth/session/logout", headers={"x-csrf-token": token})
    client.cookies.clear()
    client.cookies.set("hw_session", stolen)
    response = client.get("/auth/me")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "token_revoked"


def test_a_forged_cookie_is_401(client: TestClient) -> None:
    client.cookies.set("hw_session", "forged.value.sig")
    response = client.get("/auth/me")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "token_invalid"


class WhoAmI(Module):
    """A WebSocket that reports how its handshake was authenticated."""

    name = "whoami"

    def routers(self) -> list[APIRouter]:
        router = APIRouter()

        @router.websocket("/ws/whoami")
        async def whoami(websocket: WebSocket) -> None:
            await websocket.accept()
            await websocket.send_text(websocket.scope["state"]["principal"].credential)
            await websocket.close()

        return [router]


def session_cookie(client: TestClient) -> dict[str, str]:
    # The test client's handshake does not send the jar's cookies: a browser would.
    return {"cookie": f"hw_session={client.cookies['hw_session']}"}


def test_a_bearer_websocket_from_any_origin_is_not_a_csrf_matter(ws_client: TestClient) -> None:
    token = login(ws_client, ROOT_EMAIL, ROOT_PASSWORD)["access_token"]
    headers = {"authorization": f"Bearer {token}", "origin": "https://evil.example"}
    with ws_client.websocket_connect("/ws/whoami", headers=headers) as websocket:
        assert websocket.receive_text() == "access_token"


@pytest.fixture
def ws_client(tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(
        rate_limits=False,
        database_url=f"sqlite:///{tmp_path / 'ws.db'}",
        data_dir=tmp_path,
        secret_key=SECRET,  # type: ignore[arg-type]
        hsts=False,
    )
    config = security_config(cors_origins=("https://dashboard.example",))
    app = create_app(settings, apps=[WhoAmI()], plugins=[SecurityModule(config)])
    with TestClient(app, base_url="https://testserver") as client:
        open_session(client)
        yield client


@pytest.mark.parametrize("origin", ["https://testserver", "https://dashboard.example", None])
def test_a_cookie_websocket_from_an_allowed_origin_connects(
    ws_client: TestClient, origin: str | None
) -> None:
    headers = {**session_cookie(ws_client), **({"origin": origin} if origin else {})}
    with ws_client.websocket_connect("/ws/whoami", headers=headers) as websocket:
        assert websocket.receive_text() == "session"


def test_a_cookie_websocket_from_a_foreign_page_is_refused(ws_client: TestClient) -> None:
    with (
        pytest.raises(WebSocketDisconnect) as refused,
        ws_client.websocket_connect(
            "/ws/whoami", headers={**session_cookie(ws_client), "origin": "https://evil.example"}
        ),
    ):
        pass
    assert refused.value.code == 4403


def test_signing_in_while_holding_an_old_cookie_needs_no_token(client: TestClient) -> None:
    # The cookie lends no authority without its token; login needs none, so it works.
    open_session(client)
    assert client.post("/auth/login", json=CREDENTIALS).status_code == 200
