"""Device API keys: created by a tenant admin, shown once, scoped, revocable."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.security.support import Tenant, create_tenant, root_headers


def setup(client: TestClient) -> Tenant:
    return create_tenant(client, root_headers(client), "Acme")


def test_a_key_authenticates_in_either_header_as_its_role_and_tenant(client: TestClient) -> None:
    acme = setup(client)
    for headers in ({"x-api-key": acme.api_key}, {"authorization": f"ApiKey {acme.api_key}"}):
        me = client.get("/auth/me", headers=headers).json()["data"]
        assert me["credential"] == "api_key"
        assert me["tenant_id"] == acme.id
        assert me["roles"] == ["staff"]
        assert me["tier"] == "premium"


def test_the_full_key_is_shown_once_and_only_its_digest_is_kept(client: TestClient) -> None:
    acme = setup(client)
    secret = acme.api_key.split(".", 1)[1]
    listed = client.get("/api-keys", headers=acme.admin(client))
    one = client.get(f"/api-keys/{acme.api_key_id}", headers=acme.admin(client))
    for response in (listed, one):
        assert response.status_code == 200
        assert secret not in response.text
        assert '"key"' not in response.text


def test_a_wrong_secret_or_unknown_key_is_401(client: TestClient) -> None:
    acme = setup(client)
    key_id = acme.api_key.split(".", 1)[0]
    for bad in (f"{key_id}.wrong", "hwk_unknown.secret", "no-dot", f"{key_id}."):
        response = client.get("/auth/me", headers={"x-api-key": bad})
        assert response.status_code == 401, bad
        assert response.json()["error"]["code"] == "api_key_invalid"


def test_a_revoked_key_is_refused_at_once(client: TestClient) -> None:
    acme = setup(client)
    headers = {"x-api-key": acme.api_key}
    assert client.get("/auth/me", headers=headers).status_code == 200
    revoked = client.post(f"/api-keys/{acme.api_key_id}/revoke", headers=acme.admin(client))
    assert revoked.json()["data"]["revoked_at"] is not None
    response = client.get("/auth/me", headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "api_key_invalid"


def test_a_key_cannot_manage_keys_or_accounts_nor_sign_out(client: TestClient) -> None:
    acme = setup(client)
    headers = {"x-api-key": acme.api_key}
    assert client.get("/api-keys", headers=headers).status_code == 403
    assert client.post("/api-keys", json={"name": "x"}, headers=headers).status_code == 403
    assert client.get("/accounts", headers=headers).status_code == 403
    assert client.post("/auth/logout-all", headers=headers).status_code == 403


def test_a_key_cannot_be_made_an_admin(client: TestClient) -> None:
    acme = setup(client)
    response = client.post(
        "/api-keys", json={"name": "x", "role": "tenant_admin"}, headers=acme.admin(client)
    )
    assert response.status_code == 422


def test_keys_are_listed_in_pages(client: TestClient) -> None:
    acme = setup(client)
    admin = acme.admin(client)
    for n in range(4):
        client.post("/api-keys", json={"name": f"door {n}"}, headers=admin)
    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        body = client.get("/api-keys", params=params, headers=admin).json()
        seen += [k["id"] for k in body["data"]]
        cursor = body["pagination"]["cursor"]
        if not body["pagination"]["hasNext"]:
            break
    assert len(seen) == len(set(seen)) == 5
