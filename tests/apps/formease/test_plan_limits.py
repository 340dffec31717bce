"""Plan limits hold in the command handlers, even when requests race for the last slot."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

from tests.apps.formease.conftest import ROOT_EMAIL, ROOT_PASSWORD, World, _login
from tests.apps.formease.support import (
    data,
    error,
    new_form,
    new_user,
    open_form,
    published_form,
    submit,
)


def test_a_free_user_gets_three_forms_and_a_fourth_is_refused(world: World) -> None:
    http, a = world.http, world.a
    marker = uuid.uuid4().hex[:12]
    user = new_user(http, a, "free", email=f"limits-{marker}@customer.example")
    for n in range(3):
        new_form(http, a, user, f"form {n}")
    refused = http.post(f"/formease/users/{user}/forms", json={"title": "x"}, headers=a.staff)
    assert error(refused, 403)["code"] == "plan_limit_reached"
    stats = data(
        http.get("/formease/admin/user-stats", params={"search": marker.upper()}, headers=a.staff)
    )
    assert [(row["user_id"], row["forms"]) for row in stats] == [(user, 3)]


def test_concurrent_form_creations_cannot_exceed_the_plan(world: World) -> None:
    http, a = world.http, world.a
    user = new_user(http, a, "free")

    def create(n: int) -> int:
        body = {"title": f"race {n}"}
        return http.post(f"/formease/users/{user}/forms", json=body, headers=a.staff).status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(create, range(8)))
    assert sorted(statuses) == [201] * 3 + [403] * 5
    assert data(http.get(f"/formease/users/{user}", headers=a.staff))["form_count"] == 3


def test_concurrent_submissions_stop_exactly_at_the_monthly_limit(world: World) -> None:
    http, a = world.http, world.a
    user = new_user(http, a, "free")  # 100 submissions a month
    form = published_form(http, a, user)
    tokens = [open_form(http, a, form)["token"] for _ in range(106)]

    def send(token: str) -> int:
        return submit(http, a, token, {"name": "Ada", "age": 30}).status_code

    with ThreadPoolExecutor(12) as pool:
        statuses = list(pool.map(send, tokens))
    assert statuses.count(201) == 100, statuses
    assert statuses.count(403) == 6
    last = submit(http, a, open_form(http, a, form)["token"], {"name": "Bo"})
    assert error(last, 403)["code"] == "plan_limit_reached"
    # Upgrading the plan lifts the limit for the next submission.
    data(http.patch(f"/formease/users/{user}", json={"plan": "premium"}, headers=a.staff))
    data(submit(http, a, open_form(http, a, form)["token"], {"name": "Cy"}), 201)
    users = data(
        http.get("/formease/admin/user-stats", params={"plan": "premium"}, headers=a.staff)
    )
    row = next(r for r in users if r["user_id"] == user)
    assert row["submissions"] == 101
    assert row["recent_submissions"] == 101


def test_a_session_submits_once(world: World) -> None:
    http, a = world.http, world.a
    user = new_user(http, a, "premium")
    form = published_form(http, a, user)
    token = open_form(http, a, form)["token"]
    first = data(submit(http, a, token, {"name": "Ada"}), 201)
    again = data(submit(http, a, token, {"name": "Ada"}), 201)  # a retry replays
    assert again["submission_id"] == first["submission_id"]
    assert error(submit(http, a, token, {"name": "Eve"}), 409)["code"] == "session_closed"
    forged = token[:-4] + "AAAA"
    assert error(submit(http, a, forged, {"name": "Ada"}), 400)["code"] == "validation_failed"
    assert data(http.get(f"/formease/users/{user}", headers=a.staff))["form_count"] == 1


def test_the_tenants_settings_set_the_plan_limits(world: World) -> None:
    """A platform admin changes a tenant's FormEase limits in its settings; the app
    reads them from there (the built-in plans are only defaults), per tenant."""
    http, a, b = world.http, world.a, world.b
    root = _login(http, ROOT_EMAIL, ROOT_PASSWORD)
    key = "formease.premium.forms"
    changed = http.patch(
        f"/admin/tenants/{b.tenant_id}/settings", json={"limits": {key: 2}}, headers=root
    )
    try:
        assert data(changed)["limits"][key] == 2
        in_b = new_user(http, b, "premium")
        new_form(http, b, in_b, "one")
        new_form(http, b, in_b, "two")
        refused = http.post(f"/formease/users/{in_b}/forms", json={"title": "x"}, headers=b.staff)
        assert error(refused, 403)["code"] == "plan_limit_reached"
        assert error(refused, 403)["details"]["limit"] == 2
        # Tenant A keeps the built-in premium plan (50 forms).
        in_a = new_user(http, a, "premium")
        for n in range(3):
            new_form(http, a, in_a, f"form {n}")
        # Raised again (null: unlimited), B's user creates the third form.
        unlimited = http.patch(
            f"/admin/tenants/{b.tenant_id}/settings", json={"limits": {key: None}}, headers=root
        )
        assert data(unlimited)["limits"][key] is None
        new_form(http, b, in_b, "three")
    finally:
        http.patch(
            f"/admin/tenants/{b.tenant_id}/settings", json={"limits": {key: 50}}, headers=root
        )


def test_the_tenants_settings_set_the_monthly_submission_limit(world: World) -> None:
    http, b = world.http, world.b
    root = _login(http, ROOT_EMAIL, ROOT_PASSWORD)
    key = "formease.enterprise.submissions"
    data(
        http.patch(
            f"/admin/tenants/{b.tenant_id}/settings", json={"limits": {key: 2}}, headers=root
        )
    )
    try:
        user = new_user(http, b, "enterprise")
        form = published_form(http, b, user)
        statuses = [
            submit(http, b, open_form(http, b, form)["token"], {"name": "Ada", "age": 30})
            for _ in range(3)
        ]
        assert [s.status_code for s in statuses] == [201, 201, 403]
        assert statuses[2].json()["error"]["code"] == "plan_limit_reached"
    finally:
        http.patch(
            f"/admin/tenants/{b.tenant_id}/settings", json={"limits": {key: None}}, headers=root
        )
