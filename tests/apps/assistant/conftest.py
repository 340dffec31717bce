"""Real ``headwater serve`` nodes with the assistant, per backend and test module.

Two tenants, each with two users (so a user's isolation from the other user of the
same tenant is tested, not only across tenants). Tests make their own threads.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest

from headwater.testing._server import RunningServer, serve
from tests.conftest import POSTGRES_URL

REPO = str(Path(__file__).resolve().parents[3])
ROOT_EMAIL, ROOT_PASSWORD = "root@assistant.example", "root-password-1"
PASSWORD = "correct horse battery"
ENV = {
    "HEADWATER_AUTO_MIGRATE": "true",
    "HEADWATER_RATE_LIMITS": "false",
    "HEADWATER_BOOTSTRAP_ADMIN_EMAIL": ROOT_EMAIL,
    "HEADWATER_BOOTSTRAP_ADMIN_PASSWORD": ROOT_PASSWORD,
    "HEADWATER_FAST_PASSWORD_HASHING": "true",
    # A reader's pace would make every test wait; a little delay keeps replies streaming.
    "HEADWATER_ASSISTANT_LOCAL_DELAY_MS": "3",
    "HEADWATER_ASSISTANT_COALESCE_MS": "20",
    "HEADWATER_ASSISTANT_REPLY_LEASE": "3",
    "PYTHONPATH": os.pathsep.join(p for p in (REPO, os.environ.get("PYTHONPATH")) if p),
}
APPS = ["apps.assistant.module:module"]


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


@dataclass
class Tenant:
    tenant_id: str
    alice: dict[str, str]
    bob: dict[str, str]


@dataclass
class World:
    server: RunningServer
    http: httpx.Client
    a: Tenant
    b: Tenant
    backend: str
    url: str
    workdir: Path


def login(http: httpx.Client, email: str, password: str = PASSWORD) -> dict[str, str]:
    response = http.post("/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    return bearer(response.json()["data"]["access_token"])


def make_tenant(http: httpx.Client, root: dict[str, str], name: str) -> Tenant:
    tenant = http.post("/admin/tenants", json={"name": name}, headers=root)
    assert tenant.status_code == 201, tenant.text
    tenant_id = tenant.json()["data"]["id"]
    acting = http.post("/auth/act-as", json={"tenant_id": tenant_id}, headers=root)
    as_admin = bearer(acting.json()["data"]["access_token"])
    users = []
    for who in ("alice", "bob"):
        email = f"{who}@{name.lower()}.example"
        made = http.post(
            "/accounts",
            json={"email": email, "password": PASSWORD, "roles": ["user"]},
            headers=as_admin,
        )
        assert made.status_code == 201, made.text
        users.append(login(http, email))
    return Tenant(tenant_id, users[0], users[1])


@contextmanager
def database(backend: str, workdir: Path) -> Iterator[str]:
    """A fresh database URL: a SQLite file, or a PostgreSQL schema dropped afterwards."""
    if backend != "postgres":
        yield f"sqlite:///{workdir / 'events.db'}"
        return
    schema = f"hw_as_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{POSTGRES_URL}?schema={schema}"
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture(scope="module", params=["sqlite-file", "postgres"])
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    backend = str(request.param)
    workdir = tmp_path_factory.mktemp("assistant")
    with (
        database(backend, workdir) as url,
        serve(url, workdir=workdir, apps=APPS, env=ENV) as server,
        httpx.Client(base_url=server.url, timeout=60) as http,
    ):
        root = login(http, ROOT_EMAIL, ROOT_PASSWORD)
        yield World(
            server,
            http,
            make_tenant(http, root, "Alpha"),
            make_tenant(http, root, "Beta"),
            backend,
            url,
            workdir,
        )
