"""Step 8: the library served for real (``headwater.testing.serve``), with two tenants.

Each tenant gets staff and a user; the platform admin comes from the bootstrap
settings, as ``headwater dev`` makes one for you.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from headwater.testing import RunningServer, serve

ROOT = Path(__file__).resolve().parents[1]
ADMIN, ADMIN_PASSWORD = "root@library.example", "root-password-1"
PASSWORD = "correct horse battery"
ENV = {
    "HEADWATER_AUTO_MIGRATE": "true",
    "HEADWATER_RATE_LIMITS": "false",
    "HEADWATER_BOOTSTRAP_ADMIN_EMAIL": ADMIN,
    "HEADWATER_BOOTSTRAP_ADMIN_PASSWORD": ADMIN_PASSWORD,
    "HEADWATER_FAST_PASSWORD_HASHING": "true",
    "HEADWATER_DISCOVER_PLUGINS": "false",
    "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p),
}
APP = "library.module:module"
ROLES = ("tenant_admin", "staff", "user")


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def login(http: httpx.Client, email: str, password: str = PASSWORD) -> dict[str, str]:
    response = http.post("/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    return bearer(response.json()["data"]["access_token"])


@dataclass
class Tenant:
    tenant_id: str
    admin: dict[str, str]
    staff: dict[str, str]
    user: dict[str, str]


def make_tenant(http: httpx.Client, root: dict[str, str], name: str) -> Tenant:
    made = http.post("/admin/tenants", json={"name": name}, headers=root)
    assert made.status_code == 201, made.text
    tenant_id = made.json()["data"]["id"]
    acting = http.post("/auth/act-as", json={"tenant_id": tenant_id}, headers=root)
    as_admin = bearer(acting.json()["data"]["access_token"])
    for role in ROLES:
        account = {"email": f"{role}@{name}.example", "password": PASSWORD, "roles": [role]}
        created = http.post("/accounts", json=account, headers=as_admin)
        assert created.status_code == 201, created.text
    admin, staff, user = (
        login(http, f"{role}@{name}.example") for role in ("tenant_admin", "staff", "user")
    )
    return Tenant(tenant_id, admin, staff, user)


@dataclass
class World:
    server: RunningServer
    http: httpx.Client
    a: Tenant
    b: Tenant


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    workdir = tmp_path_factory.mktemp("library")
    url = os.environ.get("LIBRARY_TEST_DATABASE_URL", f"sqlite:///{workdir / 'events.db'}")
    with (
        serve(url, workdir=workdir, apps=[APP], env=ENV) as server,
        httpx.Client(base_url=server.url, timeout=30) as http,
    ):
        root = login(http, ADMIN, ADMIN_PASSWORD)
        yield World(server, http, make_tenant(http, root, "alpha"), make_tenant(http, root, "beta"))
