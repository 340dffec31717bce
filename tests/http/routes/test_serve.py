"""Real ``headwater serve`` processes on loopback: sign in over HTTP, revoke across nodes."""

from __future__ import annotations

import os
import time
from pathlib import Path

import httpx
import pytest

from headwater.testing._server import serve
from headwater.testing._tenancy import probe_tenant_isolation
from tests.http.routes.test_tenant_isolation import attackers, victim_of
from tests.security.support import PASSWORD, ROOT_EMAIL, ROOT_PASSWORD, create_tenant, root_headers

APP = "tests.http.routes.serve_app:module"
REPO = str(Path(__file__).resolve().parents[3])
ENV = {
    "HEADWATER_AUTO_MIGRATE": "true",
    # These tests are about auth and isolation; the probe alone exceeds the anonymous tier.
    "HEADWATER_RATE_LIMITS": "false",
    "PYTHONPATH": os.pathsep.join(p for p in (REPO, os.environ.get("PYTHONPATH")) if p),
}


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite-file", "postgres"], indirect=True)
def test_sign_in_use_refresh_and_sign_out_over_http(store_url: str, tmp_path: Path) -> None:
    with (
        serve(store_url, workdir=tmp_path, apps=[APP], env=ENV) as server,
        httpx.Client(base_url=server.url) as http,
    ):
        login = http.post("/auth/login", json={"email": ROOT_EMAIL, "password": ROOT_PASSWORD})
        assert login.status_code == 200, server.output()
        tokens = login.json()["data"]
        root = bearer(tokens["access_token"])
        assert http.get("/auth/me", headers=root).json()["data"]["roles"] == ["platform_admin"]

        tenant = http.post("/admin/tenants", json={"name": "Acme"}, headers=root).json()["data"]
        acting = http.post("/auth/act-as", json={"tenant_id": tenant["id"]}, headers=root)
        staff = http.post(
            "/accounts",
            json={"email": "door@acme.example", "password": PASSWORD, "roles": ["staff"]},
            headers=bearer(acting.json()["data"]["access_token"]),
        )
        assert staff.status_code == 201
        door = http.post("/auth/login", json={"email": "door@acme.example", "password": PASSWORD})
        assert door.json()["data"]["account"]["tenant_id"] == tenant["id"]

        refreshed = http.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
        assert refreshed.status_code == 200
        replay = http.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
        assert replay.json()["error"]["code"] == "refresh_token_reused"
        fresh = bearer(refreshed.json()["data"]["access_token"])
        assert http.get("/auth/me", headers=fresh).json()["error"]["code"] == "token_revoked"
        assert login.headers["x-content-type-options"] == "nosniff"


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_a_logout_on_one_node_reaches_the_other(store_url: str, tmp_path: Path) -> None:
    with (
        serve(store_url, workdir=tmp_path, apps=[APP], env=ENV) as node_a,
        serve(store_url, workdir=tmp_path, apps=[APP], env=ENV) as node_b,
    ):
        tokens = httpx.post(
            f"{node_a.url}/auth/login", json={"email": ROOT_EMAIL, "password": ROOT_PASSWORD}
        ).json()["data"]
        headers = bearer(tokens["access_token"])
        assert httpx.get(f"{node_b.url}/auth/me", headers=headers).status_code == 200
        assert httpx.post(f"{node_a.url}/auth/logout", headers=headers).status_code == 200
        time.sleep(0.6)  # the serve app's revocation_cache_seconds is 0.5
        response = httpx.get(f"{node_b.url}/auth/me", headers=headers)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "token_revoked"


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite-file"], indirect=True)
def test_the_isolation_probe_over_a_real_server(store_url: str, tmp_path: Path) -> None:
    with (
        serve(store_url, workdir=tmp_path, apps=[APP], env=ENV) as server,
        httpx.Client(base_url=server.url, timeout=10) as http,
    ):
        root = root_headers(http)
        a, b = create_tenant(http, root, "Alpha Corp"), create_tenant(http, root, "Beta Inc")
        for attacker in attackers(http, b).values():
            probe_tenant_isolation(http, attacker=attacker, victim=victim_of(a)).assert_isolated()
