"""Per-route role checks: who may call what."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.security.support import PASSWORD, create_tenant, root_headers


@pytest.mark.parametrize(
    ("method", "path", "needed"),
    [
        ("GET", "/accounts", "tenant_admin"),
        ("GET", "/api-keys", "tenant_admin"),
        ("GET", "/admin/tenants", "platform_admin"),
        ("GET", "/tenant", "user"),
        ("GET", "/auth/me", "user"),
    ],
)
def test_each_role_gets_what_it_needs_and_no_more(
    client: TestClient, method: str, path: str, needed: str
) -> None:
    acme = create_tenant(client, root_headers(client), "Acme")
    callers = {
        "tenant_admin": acme.admin(client),
        "staff": acme.staff(client),
        "user": acme.user(client),
    }
    rank = ["platform_admin", "tenant_admin", "staff", "user"]
    for role, headers in callers.items():
        status = client.request(method, path, headers=headers).status_code
        allowed = rank.index(role) <= rank.index(needed)
        assert status == (200 if allowed else 403), (role, path, status)
    assert client.request(method, path).status_code == 401


def test_the_platform_admin_needs_a_tenant_for_tenant_routes(client: TestClient) -> None:
    root = root_headers(client)
    assert client.get("/admin/tenants", headers=root).status_code == 200
    response = client.get("/accounts", headers=root)
    assert response.status_code == 403
    assert "tenant" in response.json()["error"]["message"]


def test_a_tenant_admin_creates_staff_who_can_sign_in(client: TestClient) -> None:
    acme = create_tenant(client, root_headers(client), "Acme")
    created = client.post(
        "/accounts",
        json={"email": "door@acme.example", "password": PASSWORD, "roles": ["staff"]},
        headers=acme.admin(client),
    )
    assert created.status_code == 201
    assert created.json()["data"]["tenant_id"] == acme.id
    duplicate = client.post(
        "/accounts",
        json={"email": "DOOR@acme.example", "password": PASSWORD, "roles": ["user"]},
        headers=acme.admin(client),
    )
    assert duplicate.status_code == 409
    assert duplicate.json()["error"]["code"] == "email_taken"


def test_nobody_in_a_tenant_can_mint_a_platform_admin(client: TestClient) -> None:
    acme = create_tenant(client, root_headers(client), "Acme")
    response = client.post(
        "/accounts",
        json={"email": "evil@acme.example", "password": PASSWORD, "roles": ["platform_admin"]},
        headers=acme.admin(client),
    )
    assert response.status_code == 422


def test_an_admin_cannot_lock_themselves_out(client: TestClient) -> None:
    acme = create_tenant(client, root_headers(client), "Acme")
    admin = acme.admin(client)
    demote = client.put(f"/accounts/{acme.admin_id}/roles", json={"roles": ["user"]}, headers=admin)
    disable = client.post(f"/accounts/{acme.admin_id}/disable", json={}, headers=admin)
    assert demote.status_code == disable.status_code == 400


def test_weak_passwords_are_refused_with_400(client: TestClient) -> None:
    acme = create_tenant(client, root_headers(client), "Acme")
    response = client.post(
        "/accounts",
        json={"email": "weak@acme.example", "password": "short", "roles": ["user"]},
        headers=acme.admin(client),
    )
    assert response.status_code == 400
