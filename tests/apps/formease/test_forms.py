"""Forms: typed fields and rules, immutable versions, history and diff, pinning."""

from __future__ import annotations

from tests.apps.formease.conftest import World
from tests.apps.formease.support import (
    AGE,
    TEXT,
    data,
    error,
    new_form,
    new_user,
    open_form,
    published_form,
    submit,
)


def test_a_submission_is_checked_against_the_version_it_opened(world: World) -> None:
    http, a = world.http, world.a
    user = new_user(http, a, "premium")
    form = published_form(http, a, user)
    on_v1 = open_form(http, a, form)
    assert on_v1["version"] == 1
    # Version 2 makes a new field required and tightens a rule.
    email = {"type": "email", "label": "Email", "required": True, "order": 3}
    patch = {"set_fields": {"email": email, "age": {**AGE, "maximum": 99}}}
    data(http.patch(f"/formease/forms/{form}", json=patch, headers=a.staff))
    assert data(http.post(f"/formease/forms/{form}/publish", headers=a.staff))["published"] == 2
    on_v2 = open_form(http, a, form)
    assert on_v2["version"] == 2

    # The v1 session still answers v1: no email needed, age 120 still allowed.
    pinned = data(submit(http, a, on_v1["token"], {"name": "Ada", "age": 120}), 201)
    assert pinned["version"] == 1
    refused = error(submit(http, a, on_v2["token"], {"name": "Ada", "age": 120}), 400)
    assert set(refused["details"]["fields"]) == {"email", "age"}
    ok = data(submit(http, a, on_v2["token"], {"name": "Ada", "email": "a@b.io"}), 201)
    assert ok["version"] == 2
    listed = data(http.get("/formease/submissions", params={"form_id": form}, headers=a.staff))
    assert [(s["version"], s["answers"]) for s in listed] == [
        (1, {"name": "Ada", "age": 120}),
        (2, {"name": "Ada", "email": "a@b.io"}),
    ]
    only_v1 = http.get(
        "/formease/submissions", params={"form_id": form, "version": 1}, headers=a.staff
    )
    assert len(data(only_v1)) == 1


def test_published_versions_are_immutable_and_diffable(world: World) -> None:
    http, a = world.http, world.a
    user = new_user(http, a, "premium")
    form = published_form(http, a, user)
    patch = {
        "title": "Survey 2",
        "set_fields": {"name": {**TEXT, "max_length": 10}},
        "remove_fields": ["age"],
    }
    data(http.patch(f"/formease/forms/{form}", json=patch, headers=a.staff))
    # The draft changed; version 1 did not.
    v1 = data(http.get(f"/formease/forms/{form}/versions/1", headers=a.staff))
    assert set(v1["fields"]) == {"name", "age"}
    data(http.post(f"/formease/forms/{form}/publish", headers=a.staff))
    history = data(http.get(f"/formease/forms/{form}/versions", headers=a.staff))
    assert [(v["version"], v["title"]) for v in history] == [(1, "Survey"), (2, "Survey 2")]
    diff = data(
        http.get(f"/formease/forms/{form}/diff", params={"from": 1, "to": 2}, headers=a.staff)
    )
    assert diff["title"] == {"from": "Survey", "to": "Survey 2"}
    assert diff["removed"] == ["age"]
    assert diff["added"] == []
    assert diff["changed"] == {"name": {"max_length": {"from": 50, "to": 10}}}
    # Publishing an unchanged draft makes no new version.
    assert data(http.post(f"/formease/forms/{form}/publish", headers=a.staff))["published"] == 2
    assert error(http.get(f"/formease/forms/{form}/versions/9", headers=a.staff), 404)


def test_bad_definitions_and_answers_are_4xx_with_a_code(world: World) -> None:
    http, a = world.http, world.a
    user = new_user(http, a, "premium")
    form = new_form(http, a, user)
    bad_specs = [
        {"set_fields": {"q": {"type": "choice", "label": "Pick"}}},  # no options
        {"set_fields": {"q": {"type": "warp", "label": "?"}}},
        {"set_fields": {"Bad Key": TEXT}},
        {"set_fields": {"q": {**TEXT, "pattern": "("}}},
        {"unknown": 1},
    ]
    for body in bad_specs:
        response = http.patch(f"/formease/forms/{form}", json=body, headers=a.staff)
        assert response.status_code in (400, 422), (body, response.text)
        assert response.json()["error"]["code"] == "validation_failed"
    # A branch on a later field cannot be published.
    branchy = {
        "set_fields": {
            "a": {**TEXT, "order": 1, "show_if": {"field": "b", "equals": "x"}},
            "b": {**TEXT, "order": 2},
        }
    }
    data(http.patch(f"/formease/forms/{form}", json=branchy, headers=a.staff))
    assert error(http.post(f"/formease/forms/{form}/publish", headers=a.staff), 400)
    # Not published yet: it cannot be opened.
    assert error(http.post(f"/formease/forms/{form}/open", headers=a.respondent), 400)
    assert error(http.get("/formease/forms/feform-nope", headers=a.staff), 404)
    published = published_form(http, a, user)
    token = open_form(http, a, published)["token"]
    for answers in ({"age": "old"}, {"name": 5}, {"name": "x" * 51}, {"name": "A", "zzz": 1}):
        refused = error(submit(http, a, token, answers), 400)
        assert refused["code"] == "validation_failed"
