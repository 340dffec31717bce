"""Tenant B's credentials, on every route, aimed at tenant A's resources: nothing of A's.

The routes come from the OpenAPI document (``headwater.testing._tenancy``), so a route
added later is probed too. Runs on every backend.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient

from headwater.app import create_app
from headwater.http._deps import RequirePrincipal, SecurityService
from headwater.http._security import SecurityModule
from headwater.modules import Module
from headwater.testing._tenancy import Victim, probe_tenant_isolation
from tests.security.support import (
    PASSWORD,
    Client,
    Tenant,
    bearer,
    create_tenant,
    login,
    make_app,
    root_headers,
    security_config,
)


@pytest.fixture
def world(store_url: str, tmp_path: Path) -> Iterator[tuple[TestClient, Tenant, Tenant]]:
    with TestClient(make_app(store_url, tmp_path), raise_server_exceptions=False) as client:
        root = root_headers(client)
        yield (
            client,
            create_tenant(client, root, "Alpha Corp"),
            create_tenant(client, root, "Beta Inc"),
        )


def victim_of(a: Tenant) -> Victim:
    return Victim(
        ids={
            "account_id": a.staff_id,
            "key_id": a.api_key_id,
            "tenant_id": a.id,
            # These apps run no job queue and no projection of their own: the dashboard's
            # job and rebuild routes must still answer B with a 4xx and nothing of A's.
            "job_id": a.id,
            "projection": "hw_accounts",
            # Alert rules are the deployment's, not a tenant's: no tenant may change one.
            "rule_name": "no-such-rule",
        },
        markers=[
            a.name,
            a.admin_email,
            a.staff_email,
            a.user_email,
            a.admin_id,
            a.user_id,
            a.api_key.split(".", 1)[1],
        ],
    )


def dashboard_session(client: Client, email: str) -> dict[str, str]:
    """A cookie session and its CSRF token, as a browser on the dashboard holds them."""
    response = client.post("/auth/session", json={"email": email, "password": PASSWORD})
    cookie = response.cookies["hw_session"]
    client.cookies.clear()
    return {"cookie": f"hw_session={cookie}", "x-csrf-token": response.json()["data"]["csrf_token"]}


def attackers(client: Client, b: Tenant) -> dict[str, Callable[[], Mapping[str, str]]]:
    return {
        "B's tenant admin": lambda: b.admin(client),
        "B's tenant admin, by cookie": lambda: dashboard_session(client, b.admin_email),
        "B's staff": lambda: b.staff(client),
        "B's user": lambda: b.user(client),
        "B's API key": lambda: {"x-api-key": b.api_key},
        "anonymous": lambda: {},
    }


def test_tenant_b_sees_nothing_of_tenant_a_on_any_route(
    world: tuple[TestClient, Tenant, Tenant],
) -> None:
    client, a, b = world
    a_admin_before = login(client, a.admin_email)
    probed = 0
    for name, attacker in attackers(client, b).items():
        report = probe_tenant_isolation(client, attacker=attacker, victim=victim_of(a))
        try:
            report.assert_isolated()
        except AssertionError as exc:
            raise AssertionError(f"as {name}: {exc}") from None
        probed = len(report.results)
    assert probed >= 20  # every route of the module, none skipped
    # And nothing of A's changed: its accounts, key and sessions all still work.
    staff = client.get("/auth/me", headers=bearer(login(client, a.staff_email)["access_token"]))
    assert staff.json()["data"]["roles"] == ["staff"]
    assert client.get("/auth/me", headers={"x-api-key": a.api_key}).status_code == 200
    assert client.get("/auth/me", headers=bearer(a_admin_before["access_token"])).status_code == 200
    assert len(client.get("/accounts", headers=a.admin(client)).json()["data"]) == 3


class LeakyModule(Module):
    """A route that forgets the tenant: the probe must catch it."""

    name = "leaky"

    def routers(self) -> list[APIRouter]:
        router = APIRouter()

        @router.get("/leaky/accounts/{account_id}")
        async def leaky(
            account_id: str, _: RequirePrincipal, security: SecurityService
        ) -> dict[str, str]:
            record = await security.accounts.get(account_id)  # unscoped: the bug
            return {"email": record.email if record else ""}

        @router.get("/leaky/widgets/{widget_id}")
        async def unknown_parameter(widget_id: str) -> dict[str, str]:
            return {}

        return [router]


def test_the_probe_catches_a_route_that_forgets_the_tenant(tmp_path: Path) -> None:
    from headwater.settings import Settings

    settings = Settings(
        rate_limits=False,
        database_url=f"sqlite:///{tmp_path / 'leaky.db'}",
        data_dir=tmp_path,
        secret_key="test-secret",  # type: ignore[arg-type]
        hsts=False,
    )
    app = create_app(settings, apps=[LeakyModule()], plugins=[SecurityModule(security_config())])
    with TestClient(app) as client:
        root = root_headers(client)
        a, b = create_tenant(client, root, "Alpha"), create_tenant(client, root, "Beta")
        report = probe_tenant_isolation(
            client, attacker=lambda: b.admin(client), victim=victim_of(a)
        )
    failures = {result.path: result.problems for result in report.failures}
    assert set(failures) == {"/leaky/accounts/{account_id}", "/leaky/widgets/{widget_id}"}
    assert any("answered 200" in p for p in failures["/leaky/accounts/{account_id}"])
    assert any(a.staff_email in p for p in failures["/leaky/accounts/{account_id}"])
    assert "add to Victim.ids" in failures["/leaky/widgets/{widget_id}"][0]
    with pytest.raises(AssertionError, match="tenant isolation broken"):
        report.assert_isolated()
