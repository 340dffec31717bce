"""One real ``headwater serve`` with FormEase per backend and test module, two tenants.

Each test makes its own FormEase users and forms, so tests sharing a server stay
independent; the server, the schema and the tenants are made once per module.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest

from headwater.testing._server import RunningServer, serve
from tests.conftest import POSTGRES_URL

REPO = str(Path(__file__).resolve().parents[3])
ROOT_EMAIL, ROOT_PASSWORD = "root@formease.example", "root-password-1"
PASSWORD = "correct horse battery"
ENV = {
    "HEADWATER_AUTO_MIGRATE": "true",
    "HEADWATER_RATE_LIMITS": "false",
    "HEADWATER_BOOTSTRAP_ADMIN_EMAIL": ROOT_EMAIL,
    "HEADWATER_BOOTSTRAP_ADMIN_PASSWORD": ROOT_PASSWORD,
    "HEADWATER_FAST_PASSWORD_HASHING": "true",
    # Webhook receivers in these tests listen on 127.0.0.2; the rest of loopback stays
    # refused, as every private address is (see test_webhooks).
    "HEADWATER_OUTBOUND_ALLOW": '["127.0.0.2/32"]',
    "PYTHONPATH": os.pathsep.join(p for p in (REPO, os.environ.get("PYTHONPATH")) if p),
}
#: With the privacy module: the audit trail (who deleted what) and "delete my data".
APPS = [
    "apps.formease.module:module",
    "apps.formease.module:realtime",
    "headwater.privacy._module:PrivacyModule",
]


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


@dataclass
class Operator:
    """One tenant of the SaaS operator: its admin, staff and respondent API key."""

    tenant_id: str
    admin: dict[str, str]
    staff: dict[str, str]
    respondent: dict[str, str]


@dataclass
class World:
    server: RunningServer
    http: httpx.Client
    a: Operator
    b: Operator
    backend: str
    url: str


def _login(http: httpx.Client, email: str, password: str = PASSWORD) -> dict[str, str]:
    response = http.post("/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    return bearer(response.json()["data"]["access_token"])


def _operator(http: httpx.Client, root: dict[str, str], name: str) -> Operator:
    tenant = http.post("/admin/tenants", json={"name": name}, headers=root)
    assert tenant.status_code == 201, tenant.text
    tenant_id = tenant.json()["data"]["id"]
    acting = http.post("/auth/act-as", json={"tenant_id": tenant_id}, headers=root)
    as_admin = bearer(acting.json()["data"]["access_token"])
    emails = {}
    for role in ("tenant_admin", "staff", "user"):
        email = f"{role}@{name.lower()}.example"
        made = http.post(
            "/accounts",
            json={"email": email, "password": PASSWORD, "roles": [role]},
            headers=as_admin,
        )
        assert made.status_code == 201, made.text
        emails[role] = email
    return Operator(
        tenant_id,
        _login(http, emails["tenant_admin"]),
        _login(http, emails["staff"]),
        _login(http, emails["user"]),
    )


@pytest.fixture(scope="module", params=["sqlite-file", "postgres"])
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    backend = str(request.param)
    workdir = tmp_path_factory.mktemp("formease")
    schema = None
    if backend == "postgres":
        schema = f"hw_fe_{uuid.uuid4().hex[:16]}"
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
        url = f"{POSTGRES_URL}?schema={schema}"
    else:
        url = f"sqlite:///{workdir / 'events.db'}"
    try:
        with (
            serve(url, workdir=workdir, apps=APPS, env=ENV) as server,
            httpx.Client(base_url=server.url, timeout=60) as http,
        ):
            root = _login(http, ROOT_EMAIL, ROOT_PASSWORD)
            yield World(
                server,
                http,
                _operator(http, root, "Alpha"),
                _operator(http, root, "Beta"),
                backend,
                url,
            )
    finally:
        if schema is not None:
            with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
