"""Production wiring: ``RealtimeModule()`` on the security module's own authenticator.

No test tokens here: an account signs in through ``/auth/login`` on a real server, and
its access token opens the socket; forged and revoked tokens are refused.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from headwater.testing._server import RunningServer, serve
from tests.realtime.support import closed_with, ws_client

pytestmark = pytest.mark.anyio

EMAIL, PASSWORD = "root@example.com", "correct horse battery staple"


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    workdir = tmp_path_factory.mktemp("realtime-secured")
    env = {
        "HEADWATER_BOOTSTRAP_ADMIN_EMAIL": EMAIL,
        "HEADWATER_BOOTSTRAP_ADMIN_PASSWORD": PASSWORD,
        "HEADWATER_FAST_PASSWORD_HASHING": "true",
    }
    url = f"sqlite:///{workdir / 'events.db'}"
    with serve(url, workdir=workdir, apps=["headwater.realtime:RealtimeModule"], env=env) as node:
        yield node


def login(server: RunningServer) -> str:
    response = httpx.post(f"{server.url}/auth/login", json={"email": EMAIL, "password": PASSWORD})
    assert response.status_code == 200, response.text
    token: str = response.json()["data"]["access_token"]
    return token


async def test_a_real_access_token_opens_the_socket(secured: RunningServer) -> None:
    token = login(secured)
    async with ws_client(secured, token) as client:
        await client.send(type="ping")
        assert (await client.expect("pong"))["type"] == "pong"
    assert client.welcome["subject"]
    assert client.welcome["tenant_id"] is None  # the bootstrap admin is a platform admin


async def test_forged_and_revoked_tokens_are_refused(secured: RunningServer) -> None:
    token = login(secured)
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    async with ws_client(secured, token=None) as client:
        await client.send(type="auth", token=forged)
        assert (await closed_with(client)).code == 4001
    async with httpx.AsyncClient(base_url=secured.url) as http:
        response = await http.post("/auth/logout", headers={"authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    async with ws_client(secured, token=None) as client:
        await client.send(type="auth", token=token)
        assert (await closed_with(client)).code == 4001
