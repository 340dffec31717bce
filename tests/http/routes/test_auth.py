"""Login, tokens and their revocation, over HTTP (SQLite; backends are covered elsewhere)."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

from fastapi.testclient import TestClient

from headwater.security._tokens import AccessTokens
from tests.security.support import (
    PASSWORD,
    ROOT_EMAIL,
    ROOT_PASSWORD,
    bearer,
    create_tenant,
    login,
    make_app,
    root_headers,
    security_config,
)
from tests.security.support import SECRET as ROOT_SECRET

TOKENS = AccessTokens(ROOT_SECRET, lifetime_seconds=600, leeway_seconds=5)


def error(response: object) -> str:
    code: str = response.json()["error"]["code"]  # type: ignore[attr-defined]
    return code


def test_login_then_me(client: TestClient) -> None:
    data = login(client, ROOT_EMAIL, ROOT_PASSWORD)
    assert data["token_type"] == "Bearer"
    assert data["expires_in"] == 600
    assert data["refresh_token"].startswith("hwr_")
    me = client.get("/auth/me", headers=bearer(data["access_token"])).json()["data"]
    assert me["roles"] == ["platform_admin"]
    assert me["tenant_id"] is None
    assert me["credential"] == "access_token"


def test_a_failed_login_does_not_say_whether_the_email_exists(client: TestClient) -> None:
    unknown = client.post("/auth/login", json={"email": "nobody@x.example", "password": "pw"})
    wrong = client.post("/auth/login", json={"email": ROOT_EMAIL, "password": "wrong password"})
    assert unknown.status_code == wrong.status_code == 401
    assert unknown.json()["error"] == wrong.json()["error"]
    assert error(wrong) == "invalid_credentials"


def test_anonymous_on_a_protected_route_is_401_with_a_challenge(client: TestClient) -> None:
    response = client.get("/auth/me")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert error(response) == "unauthorized"


def test_an_expired_access_token_is_401_token_expired(client: TestClient) -> None:
    claims = TOKENS.decode(login(client, ROOT_EMAIL, ROOT_PASSWORD)["access_token"])
    expired, _ = TOKENS.issue(
        subject=claims.subject,
        tenant_id=None,
        roles=claims.roles,
        tier=claims.tier,
        session_id=claims.session_id,
        now=time.time() - 3600,
    )
    response = client.get("/auth/me", headers=bearer(expired))
    assert response.status_code == 401
    assert error(response) == "token_expired"
    assert response.headers["www-authenticate"] == "Bearer"


def test_forged_access_tokens_are_401_token_invalid(client: TestClient) -> None:
    real = login(client, ROOT_EMAIL, ROOT_PASSWORD)["access_token"]
    header, payload, signature = real.split(".")
    other = AccessTokens(
        "another-secret-of-sufficient-length!!", lifetime_seconds=60, leeway_seconds=0
    )
    claims = TOKENS.decode(real)
    resigned, _ = other.issue(
        subject=claims.subject,
        tenant_id=None,
        roles=claims.roles,
        tier=claims.tier,
        session_id=claims.session_id,
    )
    none_header = base64.urlsafe_b64encode(json.dumps({"alg": "none"}).encode()).rstrip(b"=")
    for forged in (
        resigned,
        f"{header}.{payload}.{signature[::-1]}",
        f"{none_header.decode()}.{payload}.",
        "not-a-token",
    ):
        response = client.get("/auth/me", headers=bearer(forged))
        assert response.status_code == 401, forged
        assert error(response) == "token_invalid"


def test_an_unknown_authorization_scheme_is_401(client: TestClient) -> None:
    response = client.get("/auth/me", headers={"authorization": "Basic cm9vdDpwdw=="})
    assert response.status_code == 401
    assert error(response) == "token_invalid"


def test_bad_credentials_do_not_break_public_routes(client: TestClient) -> None:
    assert client.get("/healthz", headers=bearer("garbage")).status_code == 200


def test_logout_revokes_the_access_and_refresh_tokens(client: TestClient) -> None:
    data = login(client, ROOT_EMAIL, ROOT_PASSWORD)
    headers = bearer(data["access_token"])
    assert client.post("/auth/logout", headers=headers).status_code == 200
    revoked = client.get("/auth/me", headers=headers)
    assert revoked.status_code == 401
    assert error(revoked) == "token_revoked"
    refresh = client.post("/auth/refresh", json={"refresh_token": data["refresh_token"]})
    assert error(refresh) == "token_revoked"


def test_logout_by_refresh_token_alone(client: TestClient) -> None:
    data = login(client, ROOT_EMAIL, ROOT_PASSWORD)
    response = client.post("/auth/logout", json={"refresh_token": data["refresh_token"]})
    assert response.status_code == 200
    assert error(client.get("/auth/me", headers=bearer(data["access_token"]))) == "token_revoked"
    assert client.post("/auth/logout").status_code == 401


def test_refresh_rotates_and_reuse_revokes_the_family(client: TestClient) -> None:
    first = login(client, ROOT_EMAIL, ROOT_PASSWORD)
    second = client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert second.status_code == 200
    fresh = second.json()["data"]
    assert client.get("/auth/me", headers=bearer(fresh["access_token"])).status_code == 200
    reused = client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert reused.status_code == 401
    assert error(reused) == "refresh_token_reused"
    after = client.post("/auth/refresh", json={"refresh_token": fresh["refresh_token"]})
    assert error(after) == "token_revoked"
    assert error(client.get("/auth/me", headers=bearer(fresh["access_token"]))) == "token_revoked"


def test_an_unknown_refresh_token_is_401_token_invalid(client: TestClient) -> None:
    response = client.post("/auth/refresh", json={"refresh_token": "hwr_forged"})
    assert response.status_code == 401
    assert error(response) == "token_invalid"


def test_sign_out_everywhere(client: TestClient) -> None:
    one = login(client, ROOT_EMAIL, ROOT_PASSWORD)
    two = login(client, ROOT_EMAIL, ROOT_PASSWORD)
    assert client.post("/auth/logout-all", headers=bearer(one["access_token"])).status_code == 200
    for data in (one, two):
        assert error(client.get("/auth/me", headers=bearer(data["access_token"]))) == (
            "token_revoked"
        )
    assert (
        client.get(
            "/auth/me", headers=bearer(login(client, ROOT_EMAIL, ROOT_PASSWORD)["access_token"])
        ).status_code
        == 200
    )


def test_disabling_an_account_rejects_its_earlier_tokens(client: TestClient) -> None:
    acme = create_tenant(client, root_headers(client), "Acme")
    staff = login(client, acme.staff_email)
    admin = acme.admin(client)
    disabled = client.post(f"/accounts/{acme.staff_id}/disable", json={}, headers=admin)
    assert disabled.json()["data"]["disabled"] is True
    assert error(client.get("/auth/me", headers=bearer(staff["access_token"]))) == "token_revoked"
    relogin = client.post("/auth/login", json={"email": acme.staff_email, "password": PASSWORD})
    assert error(relogin) == "invalid_credentials"
    client.post(f"/accounts/{acme.staff_id}/enable", headers=admin)
    assert login(client, acme.staff_email)["account"]["disabled"] is False


def test_a_role_change_reaches_live_tokens(client: TestClient) -> None:
    acme = create_tenant(client, root_headers(client), "Acme")
    user = bearer(login(client, acme.user_email)["access_token"])
    assert client.get("/accounts", headers=user).status_code == 403
    promoted = client.put(
        f"/accounts/{acme.user_id}/roles",
        json={"roles": ["tenant_admin"]},
        headers=acme.admin(client),
    )
    assert promoted.status_code == 200
    assert client.get("/accounts", headers=user).status_code == 200


def test_changing_the_password_ends_other_sessions(client: TestClient) -> None:
    acme = create_tenant(client, root_headers(client), "Acme")
    old = login(client, acme.user_email)
    response = client.post(
        "/auth/password",
        json={"current_password": PASSWORD, "new_password": "a brand new password"},
        headers=bearer(old["access_token"]),
    )
    assert response.status_code == 200
    new = response.json()["data"]
    assert error(client.get("/auth/me", headers=bearer(old["access_token"]))) == "token_revoked"
    assert client.get("/auth/me", headers=bearer(new["access_token"])).status_code == 200
    assert login(client, acme.user_email, "a brand new password")
    wrong = client.post(
        "/auth/password",
        json={"current_password": "not it", "new_password": "another new password"},
        headers=bearer(new["access_token"]),
    )
    assert error(wrong) == "invalid_credentials"


def test_act_as_is_explicit_and_recorded(client: TestClient) -> None:
    root = root_headers(client)
    acme = create_tenant(client, root, "Acme")
    acting = client.post("/auth/act-as", json={"tenant_id": acme.id}, headers=root)
    token = acting.json()["data"]["access_token"]
    me = client.get("/auth/me", headers=bearer(token)).json()["data"]
    assert me["tenant_id"] == acme.id
    assert me["acting_as_admin"] is True
    # Without the act-as token, a platform admin has no tenant: a header cannot give one.
    assert client.get("/accounts", headers={**root, "x-tenant-id": acme.id}).status_code == 403
    unknown = client.post("/auth/act-as", json={"tenant_id": "nope"}, headers=root)
    assert unknown.status_code == 404
    refused = client.post("/auth/act-as", json={"tenant_id": acme.id}, headers=acme.admin(client))
    assert refused.status_code == 403


def test_act_as_events_carry_the_admin_in_their_metadata(tmp_path: Path) -> None:
    import anyio

    from headwater.eventstore import create_event_store
    from headwater.security import _events as ev

    url = f"sqlite:///{tmp_path / 'audit.db'}"
    with TestClient(make_app(url, tmp_path)) as client:
        root = root_headers(client)
        acme = create_tenant(client, root, "Acme")

    async def read() -> list[tuple[str, dict[str, object]]]:
        async with await create_event_store(url) as store:
            return [(e.type, e.metadata) async for e in store.read_all(tenant_id=acme.id)]

    events = anyio.run(read)
    created = [meta for kind, meta in events if kind == ev.ACCOUNT_REGISTERED]
    assert len(created) == 3
    assert all(meta["acting_as_admin"] is True for meta in created)
    assert all(meta["tenant_id"] == acme.id for meta in created)


def test_revocations_reach_other_nodes_within_the_cache_time(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    config = security_config(revocation_cache_seconds=0.3)
    with (
        TestClient(make_app(url, tmp_path, config)) as node_a,
        TestClient(make_app(url, tmp_path, config)) as node_b,
    ):
        data = login(node_a, ROOT_EMAIL, ROOT_PASSWORD)
        headers = bearer(data["access_token"])
        assert node_b.get("/auth/me", headers=headers).status_code == 200  # B caches "live"
        assert node_a.post("/auth/logout", headers=headers).status_code == 200
        assert error(node_a.get("/auth/me", headers=headers)) == "token_revoked"  # at once
        time.sleep(0.35)
        assert error(node_b.get("/auth/me", headers=headers)) == "token_revoked"  # within 0.3 s


def test_every_answer_carrying_tokens_or_keys_is_no_store(client: TestClient) -> None:
    logged_in = client.post("/auth/login", json={"email": ROOT_EMAIL, "password": ROOT_PASSWORD})
    assert logged_in.status_code == 200
    refreshed = client.post(
        "/auth/refresh", json={"refresh_token": logged_in.json()["data"]["refresh_token"]}
    )
    assert refreshed.status_code == 200
    tenant = client.post("/admin/tenants", json={"name": "Cache Co"}, headers=root_headers(client))
    assert tenant.status_code == 201
    for answer in (logged_in, refreshed, tenant):
        assert answer.headers["cache-control"] == "no-store", answer.request.url
