"""Concurrent edits through the declared ConflictPolicy: merge, last write, refuse, review."""

from __future__ import annotations

from tests.apps.formease.conftest import World
from tests.apps.formease.support import AGE, TEXT, data, error, new_form, new_user

CITY = {"type": "text", "label": "City", "order": 3}


def test_two_admins_editing_different_fields_merge(world: World) -> None:
    http, a = world.http, world.a
    form = new_form(http, a, new_user(http, a, "premium"))
    base = data(http.get(f"/formease/forms/{form}", headers=a.staff))["version"]
    mine = {"based_on_version": base, "set_fields": {"name": TEXT}}
    theirs = {"based_on_version": base, "set_fields": {"age": AGE}}
    data(http.patch(f"/formease/forms/{form}", json=theirs, headers=a.staff))
    data(http.patch(f"/formease/forms/{form}", json=mine, headers=a.admin))
    fields = data(http.get(f"/formease/forms/{form}", headers=a.staff))["fields"]
    assert set(fields) == {"name", "age"}


def test_the_same_field_edited_twice_goes_to_the_last_write(world: World) -> None:
    http, a = world.http, world.a
    form = new_form(http, a, new_user(http, a, "premium"))
    data(
        http.patch(f"/formease/forms/{form}", json={"set_fields": {"city": CITY}}, headers=a.staff)
    )
    base = data(http.get(f"/formease/forms/{form}", headers=a.staff))["version"]
    first = {"based_on_version": base, "set_fields": {"city": {**CITY, "label": "Town"}}}
    second = {"based_on_version": base, "set_fields": {"city": {**CITY, "label": "Place"}}}
    data(http.patch(f"/formease/forms/{form}", json=first, headers=a.staff))
    data(http.patch(f"/formease/forms/{form}", json=second, headers=a.admin))
    fields = data(http.get(f"/formease/forms/{form}", headers=a.staff))["fields"]
    assert fields["city"]["label"] == "Place"


def test_a_colliding_title_is_refused_with_base_mine_and_theirs(world: World) -> None:
    http, a = world.http, world.a
    form = new_form(http, a, new_user(http, a, "premium"))
    base = data(http.get(f"/formease/forms/{form}", headers=a.staff))["version"]
    data(
        http.patch(
            f"/formease/forms/{form}",
            json={"based_on_version": base, "title": "Theirs"},
            headers=a.staff,
        )
    )
    refused = error(
        http.patch(
            f"/formease/forms/{form}",
            json={"based_on_version": base, "title": "Mine"},
            headers=a.admin,
        ),
        409,
    )
    assert refused["code"] == "merge_conflict"
    details = refused["details"]
    assert details["base"]["title"] == "Survey"
    assert details["mine"]["title"] == "Mine"
    assert details["theirs"]["title"] == "Theirs"
    assert details["fields"] == ["title"]
    assert data(http.get(f"/formease/forms/{form}", headers=a.staff))["title"] == "Theirs"
    ahead = http.patch(
        f"/formease/forms/{form}", json={"based_on_version": 99, "title": "x"}, headers=a.staff
    )
    assert ahead.status_code == 404


def test_user_fields_merge_or_go_last_write_unless_critical(world: World) -> None:
    http, a = world.http, world.a
    user = new_user(http, a, "free", name="Ada")
    base = data(http.get(f"/formease/users/{user}", headers=a.staff))["version"]
    data(
        http.patch(
            f"/formease/users/{user}",
            json={"based_on_version": base, "name": "Ada L."},
            headers=a.staff,
        )
    )
    # A stale write of the same non-critical field: last write wins.
    data(
        http.patch(
            f"/formease/users/{user}",
            json={"based_on_version": base, "name": "Ada K."},
            headers=a.admin,
        )
    )
    # A stale write of a critical field nobody else touched merges.
    data(
        http.patch(
            f"/formease/users/{user}",
            json={"based_on_version": base, "role": "editor"},
            headers=a.admin,
        )
    )
    state = data(http.get(f"/formease/users/{user}", headers=a.staff))
    assert (state["name"], state["role"], state["plan"]) == ("Ada K.", "editor", "free")


def test_a_critical_conflict_is_reviewed_then_applied_or_rejected(world: World) -> None:
    http, a, b = world.http, world.a, world.b
    user = new_user(http, a, "free")
    base = data(http.get(f"/formease/users/{user}", headers=a.staff))["version"]
    data(
        http.patch(
            f"/formease/users/{user}",
            json={"based_on_version": base, "plan": "premium"},
            headers=a.staff,
        )
    )
    parked = error(
        http.patch(
            f"/formease/users/{user}",
            json={"based_on_version": base, "plan": "enterprise"},
            headers=a.admin,
        ),
        202,
    )
    assert parked["code"] == "escalated"
    assert parked["details"]["fields"] == ["plan"]
    review_id = parked["details"]["review_id"]
    assert data(http.get(f"/formease/users/{user}", headers=a.staff))["plan"] == "premium"
    queue = data(http.get("/formease/admin/reviews", headers=a.staff))
    item = next(r for r in queue if r["review_id"] == review_id)
    assert item["aggregate_id"] == user
    assert item["command"]["plan"] == "enterprise"
    assert data(http.get("/formease/admin/reviews", headers=b.staff)) == []
    # Staff may not decide; another tenant cannot see it; the tenant admin applies it.
    assert (
        http.post(f"/formease/admin/reviews/{review_id}/accept", headers=a.staff).status_code == 403
    )
    assert (
        http.post(f"/formease/admin/reviews/{review_id}/accept", headers=b.admin).status_code == 404
    )
    applied = data(http.post(f"/formease/admin/reviews/{review_id}/accept", headers=a.admin))
    assert applied["applied_version"] > base
    assert data(http.get(f"/formease/users/{user}", headers=a.staff))["plan"] == "enterprise"
    again = http.post(f"/formease/admin/reviews/{review_id}/reject", json={}, headers=a.admin)
    assert error(again, 409)["code"] == "review_already_decided"
    assert all(
        r["review_id"] != review_id
        for r in data(http.get("/formease/admin/reviews", headers=a.staff))
    )

    # The other path: a parked email change, rejected, changes nothing.
    base = data(http.get(f"/formease/users/{user}", headers=a.staff))["version"]
    data(
        http.patch(
            f"/formease/users/{user}",
            json={"based_on_version": base, "email": "one@x.io"},
            headers=a.staff,
        )
    )
    parked = error(
        http.patch(
            f"/formease/users/{user}",
            json={"based_on_version": base, "email": "two@x.io"},
            headers=a.admin,
        ),
        202,
    )
    rejected = http.post(
        f"/formease/admin/reviews/{parked['details']['review_id']}/reject",
        json={"reason": "typo"},
        headers=a.admin,
    )
    assert data(rejected)["status"] == "rejected"
    assert data(http.get(f"/formease/users/{user}", headers=a.staff))["email"] == "one@x.io"
