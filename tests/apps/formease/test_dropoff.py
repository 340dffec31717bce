"""Per-field views for drop-off: exact with branching, never negative."""

from __future__ import annotations

from typing import Any

from tests.apps.formease.conftest import World
from tests.apps.formease.support import data, new_user, open_form, published_form, submit

BRANCHING = {
    "likes": {
        "type": "choice",
        "label": "Like it?",
        "options": ["yes", "no"],
        "order": 1,
        "required": True,
    },
    "why": {
        "type": "text",
        "label": "Why?",
        "order": 2,
        "required": True,
        "show_if": {"field": "likes", "equals": "yes"},
    },
    "fix": {
        "type": "text",
        "label": "What to fix?",
        "order": 3,
        "required": True,
        "show_if": {"field": "likes", "equals": "no"},
    },
    "email": {"type": "email", "label": "Email", "order": 4},
}


def test_dropoff_follows_the_branch_each_respondent_took(world: World) -> None:
    http, a = world.http, world.a
    user = new_user(http, a, "premium")
    form = published_form(http, a, user, BRANCHING)

    def views(token: str, *fields: str) -> None:
        body = {"token": token, "fields": list(fields)}
        data(http.post("/formease/sessions/views", json=body, headers=a.respondent))

    # 1: reports nothing, submits the "yes" branch: its visible fields count as seen.
    one = open_form(http, a, form)["token"]
    data(submit(http, a, one, {"likes": "yes", "why": "fast"}), 201)
    # 2: sees likes and fix, then leaves.
    two = open_form(http, a, form)["token"]
    views(two, "likes", "fix")
    # 3: sees likes, why (twice: counted once), changes its mind and submits "no".
    three = open_form(http, a, form)["token"]
    views(three, "likes", "why")
    views(three, "why")
    data(submit(http, a, three, {"likes": "no", "fix": "price", "email": "c@d.io"}), 201)
    # A hidden field answered is refused, and a branch's hidden field must stay empty.
    four = open_form(http, a, form)["token"]
    assert submit(http, a, four, {"likes": "yes", "why": "x", "fix": "y"}).status_code == 400

    report = data(
        http.get(f"/formease/forms/{form}/dropoff", params={"version": 1}, headers=a.staff)
    )
    rows: dict[str, Any] = {r["field"]: r for r in report["fields"]}
    assert [r["field"] for r in report["fields"]] == ["likes", "why", "fix", "email"]
    assert {k: (r["views"], r["completed"], r["dropped"]) for k, r in rows.items()} == {
        "likes": (3, 2, 1),
        "why": (2, 1, 1),
        "fix": (2, 1, 1),
        "email": (2, 2, 0),
    }
    assert all(r["dropped"] >= 0 for r in rows.values())
    assert rows["why"]["branch"]
    assert not rows["likes"]["branch"]
    # Views after submission are refused: the counts cannot move any more.
    late = http.post(
        "/formease/sessions/views", json={"token": one, "fields": ["email"]}, headers=a.respondent
    )
    assert late.status_code == 409
    bad = http.post(
        "/formease/sessions/views", json={"token": two, "fields": ["nope"]}, headers=a.respondent
    )
    assert bad.status_code == 400
