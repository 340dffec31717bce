"""Tenant settings, a tenant's users, and accounts that belong to several tenants.

Runs on every backend: memberships and settings are events projected inline into the
security tables, and the switched token is checked against them on every request.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.security.support import (
    Tenant,
    bearer,
    create_tenant,
    login,
    make_app,
    root_headers,
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


def _data(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()["data"]


def _emails(client: TestClient, headers: dict[str, str]) -> set[str]:
    return {a["email"] for a in _data(client.get("/accounts", headers=headers))}


def test_a_user_in_two_tenants_sees_each_tenants_data_only_when_acting_in_it(
    world: tuple[TestClient, Tenant, Tenant],
) -> None:
    client, a, b = world
    root = root_headers(client)
    member = client.put(
        f"/admin/tenants/{b.id}/members",
        json={"email": a.admin_email, "roles": ["tenant_admin"]},
        headers=root,
    )
    _data(member)
    home = bearer(login(client, a.admin_email)["access_token"])

    # Acting in its home tenant: A's accounts, none of B's.
    assert a.staff_email in _emails(client, home)
    assert b.staff_email not in _emails(client, home)
    tenants = _data(client.get("/auth/tenants", headers=home))
    assert {(t["tenant_id"], t["kind"], t["current"]) for t in tenants} == {
        (a.id, "home", True),
        (b.id, "member", False),
    }

    # Switched to B: B's accounts, none of A's, and B's own tenant.
    switched = _data(client.post("/auth/switch-tenant", json={"tenant_id": b.id}, headers=home))
    assert switched["tenant_id"] == b.id
    in_b = bearer(switched["access_token"])
    assert b.staff_email in _emails(client, in_b)
    assert a.staff_email not in _emails(client, in_b)
    assert _data(client.get("/tenant", headers=in_b))["id"] == b.id
    me = _data(client.get("/auth/me", headers=in_b))
    assert me["tenant_id"] == b.id

    # The home token is unchanged by the switch.
    assert b.staff_email not in _emails(client, home)

    # Ending the membership ends the switched token at once.
    gone = client.delete(f"/admin/tenants/{b.id}/members/{a.admin_id}", headers=root)
    _data(gone)
    refused = client.get("/accounts", headers=in_b)
    assert refused.status_code == 401, refused.text
    assert a.staff_email in _emails(client, home)


def test_switching_to_a_tenant_without_membership_is_refused(
    world: tuple[TestClient, Tenant, Tenant],
) -> None:
    client, a, b = world
    staff = a.staff(client)
    refused = client.post("/auth/switch-tenant", json={"tenant_id": b.id}, headers=staff)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "forbidden"
    # Its home tenant is always allowed.
    again = _data(client.post("/auth/switch-tenant", json={"tenant_id": a.id}, headers=staff))
    assert again["tenant_id"] == a.id


def test_a_member_holds_the_roles_of_its_membership_not_its_home_ones(
    world: tuple[TestClient, Tenant, Tenant],
) -> None:
    client, a, b = world
    root = root_headers(client)
    _data(
        client.put(
            f"/admin/tenants/{b.id}/members",
            json={"email": a.admin_email, "roles": ["user"]},
            headers=root,
        )
    )
    home = a.admin(client)
    in_b = bearer(
        _data(client.post("/auth/switch-tenant", json={"tenant_id": b.id}, headers=home))[
            "access_token"
        ]
    )
    # A tenant admin at home, a plain user in B: B's account list is admins' only.
    assert client.get("/accounts", headers=in_b).status_code == 403
    assert client.get("/accounts", headers=home).status_code == 200


def test_tenant_users_lists_home_accounts_and_members(
    world: tuple[TestClient, Tenant, Tenant],
) -> None:
    client, a, b = world
    root = root_headers(client)
    _data(
        client.put(
            f"/admin/tenants/{b.id}/members",
            json={"email": a.staff_email, "roles": ["staff"]},
            headers=root,
        )
    )
    listed = client.get(
        f"/admin/tenants/{b.id}/users", params={"sort": "email", "total": "true"}, headers=root
    )
    users = _data(listed)
    kinds = {u["email"]: u["kind"] for u in users}
    assert kinds[a.staff_email] == "member"
    assert kinds[b.staff_email] == "home"
    assert a.admin_email not in kinds
    assert [u["email"] for u in users] == sorted(kinds)
    assert listed.json()["pagination"]["total"] == len(users) == 4
    assert listed.json()["pagination"]["totalExact"] is True
    # A tenant admin sees the same list for its own tenant only.
    own = _data(client.get("/tenant/users", headers=b.admin(client)))
    assert {u["email"] for u in own} == set(kinds)
    assert client.get(f"/admin/tenants/{b.id}/users", headers=b.admin(client)).status_code == 403


def test_tenant_settings_are_read_by_members_and_written_by_admins(
    world: tuple[TestClient, Tenant, Tenant],
) -> None:
    client, a, b = world
    root = root_headers(client)
    fresh = _data(client.get("/tenant/settings", headers=a.staff(client)))
    assert (fresh["plan"], fresh["limits"], fresh["features"]) == ("standard", {}, [])

    changed = client.patch(
        f"/admin/tenants/{a.id}/settings",
        json={"plan": "premium", "limits": {"formease.free.forms": 5}, "features": ["exports"]},
        headers=root,
    )
    assert _data(changed)["plan"] == "premium"
    seen = _data(client.get("/tenant/settings", headers=a.staff(client)))
    assert seen["limits"] == {"formease.free.forms": 5}
    assert seen["features"] == ["exports"]
    assert seen["version"] >= 1
    assert _data(client.get("/tenant/settings", headers=b.staff(client)))["plan"] == "standard"

    # A tenant admin switches features but may not change the plan or the limits.
    admin = a.admin(client)
    features = client.patch("/tenant/settings", json={"features": ["exports", "ai"]}, headers=admin)
    assert _data(features)["features"] == ["ai", "exports"]
    assert _data(features)["limits"] == {"formease.free.forms": 5}
    plan = client.patch("/tenant/settings", json={"plan": "enterprise"}, headers=admin)
    assert plan.status_code == 403
    assert (
        client.patch("/tenant/settings", json={"features": []}, headers=a.staff(client)).status_code
        == 403
    )

    # Limits merge key by key, null meaning unlimited; bad values are a 4xx.
    merged = client.patch(
        f"/admin/tenants/{a.id}/settings",
        json={"limits": {"formease.premium.forms": None}},
        headers=root,
    )
    assert _data(merged)["limits"] == {"formease.free.forms": 5, "formease.premium.forms": None}
    bad = client.patch(f"/admin/tenants/{a.id}/settings", json={"limits": {"x": -1}}, headers=root)
    assert bad.status_code == 422


def test_settings_writes_are_audited_last_write_wins_events(
    world: tuple[TestClient, Tenant, Tenant],
) -> None:
    client, a, _ = world
    root = root_headers(client)
    for plan in ("premium", "enterprise"):
        _data(client.patch(f"/admin/tenants/{a.id}/settings", json={"plan": plan}, headers=root))
    settings = _data(client.get(f"/admin/tenants/{a.id}/settings", headers=root))
    assert settings["plan"] == "enterprise"
    me = _data(client.get("/auth/me", headers=root))
    assert settings["updated_by"] == me["subject"]
