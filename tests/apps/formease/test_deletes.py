"""Deletes in FormEase: a tombstone event each, the rows gone, 404 afterwards.

Seed 003 names ``user.deleted`` and ``form.deleted`` on the admin feed; the audit
trail names who deleted; a repeat is a 404 that records nothing.
"""

from __future__ import annotations

import csv
import io
import uuid
from typing import Any

from tests.apps.formease.conftest import World
from tests.apps.formease.support import data, error, new_user, open_form, published_form, submit
from tests.apps.formease.test_realtime import _admin_feed, _names


def _submitted(world: World, form_id: str, name: str) -> str:
    http, a = world.http, world.a
    token = open_form(http, a, form_id)["token"]
    return str(data(submit(http, a, token, {"name": name, "age": 40}), 201)["submission_id"])


def _listed(world: World, **filters: str) -> list[dict[str, Any]]:
    query = "&".join(f"{k}={v}" for k, v in filters.items())
    got = data(world.http.get(f"/formease/submissions?{query}", headers=world.a.staff))
    return list(got)


def _csv_ids(world: World, **filters: str) -> set[str]:
    query = "&".join(f"{k}={v}" for k, v in filters.items())
    got = world.http.get(f"/formease/submissions/export.csv?{query}", headers=world.a.staff)
    assert got.status_code == 200, got.text
    return {row["submission_id"] for row in csv.DictReader(io.StringIO(got.text.lstrip("\ufeff")))}


def _audit(world: World, type_: str) -> list[dict[str, Any]]:
    got = world.http.get(f"/admin/api/audit?type={type_}&limit=200", headers=world.a.admin)
    return list(data(got))


def test_a_deleted_submission_leaves_the_list_the_exports_and_the_counts(world: World) -> None:
    http, a = world.http, world.a
    owner = new_user(http, a, "premium")
    form = published_form(http, a, owner)
    kept = _submitted(world, form, "Kept")
    gone = _submitted(world, form, "Gone-canary-7f3")
    assert data(http.get(f"/formease/submissions/{gone}", headers=a.staff))["form_id"] == form

    deleted = http.delete(f"/formease/submissions/{gone}", headers=a.staff)

    assert deleted.status_code == 204, deleted.text
    assert error(http.get(f"/formease/submissions/{gone}", headers=a.staff), 404)["code"] == (
        "not_found"
    )
    assert [r["submission_id"] for r in _listed(world, form_id=form)] == [kept]
    assert _csv_ids(world, form_id=form) == {kept}
    exported = http.get(f"/formease/submissions/export.json?form_id={form}", headers=a.staff)
    assert "Gone-canary-7f3" not in exported.text
    again = http.delete(f"/formease/submissions/{gone}", headers=a.staff)
    assert error(again, 404)["code"] == "not_found"
    tombstones = [e for e in _audit(world, "formease.SubmissionDeleted") if gone in e["stream_id"]]
    assert len(tombstones) == 1  # the repeat recorded nothing
    assert tombstones[0]["actor"]
    stats = data(http.get("/formease/admin/user-stats?limit=200", headers=a.staff))
    row = next(u for u in stats if u["user_id"] == owner)
    assert row["submissions"] == 1


def test_a_deleted_form_is_404_to_staff_and_respondents_and_its_rows_go(world: World) -> None:
    http, a = world.http, world.a
    owner = new_user(http, a, "premium")
    form = published_form(http, a, owner)
    other = published_form(http, a, owner)
    token = open_form(http, a, form)["token"]  # a respondent halfway through
    submission = _submitted(world, form, "Ada")
    survivor = _submitted(world, other, "Bo")

    with _admin_feed(world, a.admin) as feed:
        deleted = http.delete(f"/formease/forms/{form}", headers=a.staff)
        assert deleted.status_code == 204, deleted.text
        events = _names(feed, 1)
    assert [(e["name"], e["data"]["form_id"]) for e in events] == [("form.deleted", form)]

    assert error(http.get(f"/formease/forms/{form}", headers=a.staff), 404)["code"] == "not_found"
    patch = http.patch(f"/formease/forms/{form}", json={"title": "X"}, headers=a.staff)
    assert error(patch, 404)["code"] == "not_found"
    assert error(http.post(f"/formease/forms/{form}/open", headers=a.respondent), 404)
    late = submit(http, a, token, {"name": "Late", "age": 3})
    assert error(late, 404)["code"] == "not_found"
    assert error(http.get(f"/formease/submissions/{submission}", headers=a.staff), 404)
    listed = world.http.get(f"/formease/submissions?form_id={form}", headers=a.staff)
    assert error(listed, 404)["code"] == "not_found"  # the filter names a form there is not
    assert [r["submission_id"] for r in _listed(world, owner_id=owner)] == [survivor]
    assert _csv_ids(world, owner_id=owner) == {survivor}
    assert error(http.delete(f"/formease/forms/{form}", headers=a.staff), 404)
    assert len([e for e in _audit(world, "formease.FormDeleted") if form in e["stream_id"]]) == 1


def test_a_deleted_user_takes_their_forms_and_submissions_and_the_feed_says_so(
    world: World,
) -> None:
    http, a = world.http, world.a
    owner = new_user(http, a, "premium", email="delete-me-canary@customer.example")
    bystander = new_user(http, a, "premium")
    forms = [published_form(http, a, owner), published_form(http, a, owner)]
    kept_form = published_form(http, a, bystander)
    submitted = [_submitted(world, form, "Ada") for form in forms]
    kept = _submitted(world, kept_form, "Bo")

    with _admin_feed(world, a.admin) as feed:
        deleted = http.delete(f"/formease/users/{owner}", headers=a.staff)
        assert deleted.status_code == 200, deleted.text
        events = _names(feed, 3)
    assert sorted(data(deleted)["deleted_forms"]) == sorted(forms)
    assert [e["name"] for e in events] == ["user.deleted", "form.deleted", "form.deleted"]
    assert events[0]["data"]["user_id"] == owner

    assert error(http.get(f"/formease/users/{owner}", headers=a.staff), 404)["code"] == (
        "not_found"
    )
    for form in forms:
        assert error(http.get(f"/formease/forms/{form}", headers=a.staff), 404)
    made = http.post(f"/formease/users/{owner}/forms", json={"title": "T"}, headers=a.staff)
    assert error(made, 404)
    everyone = {r["submission_id"] for r in _listed(world, limit="500")}
    assert kept in everyone
    assert not everyone & set(submitted)
    assert _csv_ids(world, owner_id=bystander) == {kept}
    stats = http.get("/formease/admin/user-stats?limit=200&search=delete-me", headers=a.staff)
    assert "delete-me-canary" not in stats.text
    assert error(http.delete(f"/formease/users/{owner}", headers=a.staff), 404)
    audit = [e for e in _audit(world, "formease.UserDeleted") if owner in e["stream_id"]]
    assert len(audit) == 1
    created = [e for e in _audit(world, "formease.UserRegistered") if owner in e["stream_id"]]
    assert audit[0]["actor"] == created[0]["actor"]  # the staff member who did both


def test_only_staff_of_the_tenant_may_delete(world: World) -> None:
    http, a, b = world.http, world.a, world.b
    owner = new_user(http, a, "premium")
    form = published_form(http, a, owner)
    submission = _submitted(world, form, "Ada")
    for path in (
        f"/formease/users/{owner}",
        f"/formease/forms/{form}",
        f"/formease/submissions/{submission}",
    ):
        assert http.delete(path, headers=a.respondent).status_code == 403
        assert error(http.delete(path, headers=b.staff), 404)["code"] == "not_found"
        assert http.delete(path).status_code == 401
    too_long = http.delete(f"/formease/forms/{'x' * 300}", headers=a.staff)
    assert too_long.status_code == 422
    assert data(http.get(f"/formease/submissions/{submission}", headers=a.staff))
    assert http.delete(f"/formease/users/{owner}", headers=a.admin).status_code == 200


def test_a_respondent_asks_to_be_forgotten_and_their_account_closes(world: World) -> None:
    """'Delete my data' through the privacy module served beside FormEase."""
    from tests.apps.formease.conftest import PASSWORD, ROOT_EMAIL, ROOT_PASSWORD, _login

    http, a = world.http, world.a
    root = _login(http, ROOT_EMAIL, ROOT_PASSWORD)
    acting = http.post("/auth/act-as", json={"tenant_id": a.tenant_id}, headers=root)
    as_admin = {"authorization": f"Bearer {acting.json()['data']['access_token']}"}
    email = f"forget-{uuid.uuid4().hex[:8]}@respondent.example"
    account = {"email": email, "password": PASSWORD, "roles": ["user"]}
    made = http.post("/accounts", json=account, headers=as_admin)
    account_id = data(made, 201)["id"]
    respondent = _login(http, email)
    form = published_form(http, a, new_user(http, a, "premium"))
    opened = data(http.post(f"/formease/forms/{form}/open", headers=respondent), 201)
    answered = http.post(
        "/formease/submissions",
        json={"token": opened["token"], "answers": {"name": "Ada"}},
        headers=respondent,
    )
    data(answered, 201)

    erased = data(http.post("/me/erasure", headers=respondent))

    assert erased["subject"] == account_id
    assert erased["accountDisabled"] is True
    assert erased["erasedNow"] is True
    assert http.post(f"/formease/forms/{form}/open", headers=respondent).status_code == 401
    again = http.post("/auth/login", json={"email": email, "password": PASSWORD})
    assert again.status_code in (401, 403)
    trail = [e for e in _audit(world, "headwater.SubjectErased") if e["actor"] == account_id]
    assert [e["data"]["subject"] for e in trail] == [account_id]
