"""The admin channel carries FormEase's events by their admin names, per tenant."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson
from websockets.sync.client import ClientConnection, connect

from tests.apps.formease.conftest import PASSWORD, Operator, World, _login
from tests.apps.formease.support import data, new_form, new_user, open_form, submit

FIELD = {"type": "text", "label": "Name", "order": 1}


@contextmanager
def _admin_feed(world: World, headers: dict[str, str]) -> Iterator[ClientConnection]:
    with connect(f"{world.server.ws_url}/realtime/ws", additional_headers=headers) as ws:
        assert orjson.loads(ws.recv(timeout=10))["type"] == "welcome"
        ws.send(orjson.dumps({"type": "subscribe", "channel": "admin"}).decode())
        yield ws


def _names(ws: ClientConnection, count: int, within: float = 10.0) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    deadline = time.monotonic() + within
    while len(found) < count and time.monotonic() < deadline:
        try:
            message = orjson.loads(ws.recv(timeout=max(0.01, deadline - time.monotonic())))
        except TimeoutError:
            break
        if message["type"] == "event":
            found.append(message["event"])
    return found


def test_admins_see_users_forms_and_submissions_live(world: World) -> None:
    http, a, b = world.http, world.a, world.b
    with _admin_feed(world, a.admin) as feed, _admin_feed(world, b.admin) as other:
        user = new_user(http, a, "premium")
        form = new_form(http, a, user)
        body = {"set_fields": {"name": FIELD}}
        data(http.patch(f"/formease/forms/{form}", json=body, headers=a.staff))
        data(http.post(f"/formease/forms/{form}/publish", headers=a.staff))
        data(submit(http, a, open_form(http, a, form)["token"], {"name": "Ada"}), 201)
        events = _names(feed, 5)
        assert [e["name"] for e in events] == [
            "user.created",
            "form.created",
            "form.updated",
            "form.updated",
            "submission.received",
        ]
        assert events[-1]["data"]["form_id"] == form
        assert _names(other, 1, within=1.0) == []  # nothing of A's reaches B's admins


def test_the_feed_events_carry_what_an_admin_needs(world: World) -> None:
    """Seed 003: ``user.updated`` is sent; ``form.created`` names the user and
    ``submission.received`` the form (and its owner), with no second read."""
    http, a = world.http, world.a
    with _admin_feed(world, a.admin) as feed:
        user = new_user(http, a, "premium", email="feed-owner@customer.example", name="Ada")
        data(http.patch(f"/formease/users/{user}", json={"name": "Ada L."}, headers=a.staff))
        form = new_form(http, a, user, "Feedback")
        body = {"set_fields": {"name": FIELD}}
        data(http.patch(f"/formease/forms/{form}", json=body, headers=a.staff))
        data(http.post(f"/formease/forms/{form}/publish", headers=a.staff))
        data(submit(http, a, open_form(http, a, form)["token"], {"name": "Bo"}), 201)
        events = {e["name"]: e for e in _names(feed, 6)}
    updated = events["user.updated"]["data"]
    assert updated["changes"] == {"name": "Ada L."}
    assert updated["user"] == {
        "user_id": user,
        "email": "feed-owner@customer.example",
        "name": "Ada L.",
        "plan": "premium",
        "role": "member",
    }
    created = events["form.created"]["data"]
    assert (created["form_id"], created["title"]) == (form, "Feedback")
    assert created["user"]["email"] == "feed-owner@customer.example"
    assert created["user"]["name"] == "Ada L."
    received = events["submission.received"]["data"]
    assert received["form"]["title"] == "Feedback"
    assert received["form"]["form_id"] == form
    assert received["form"]["owner"]["email"] == "feed-owner@customer.example"


def test_a_change_skips_its_authors_feed_but_reaches_the_other_admins(world: World) -> None:
    http, a = world.http, world.a
    email = f"second-admin-{time.monotonic_ns()}@alpha.example"
    made = http.post(
        "/accounts",
        json={"email": email, "password": PASSWORD, "roles": ["tenant_admin"]},
        headers=a.admin,
    )
    assert made.status_code == 201, made.text
    other_admin = _login(http, email)
    with _admin_feed(world, a.admin) as author, _admin_feed(world, other_admin) as colleague:
        # The author makes the change (an admin is staff too) ...
        user = new_user(http, Operator(a.tenant_id, a.admin, a.admin, a.respondent), "free")
        seen = _names(colleague, 1)
        assert [e["name"] for e in seen] == ["user.created"]
        assert seen[0]["stream_id"].endswith(user)
        # ... and does not get it back; a change by someone else still reaches it.
        new_user(http, a, "free")
        echoed = _names(author, 1)
        assert [e["name"] for e in echoed] == ["user.created"]
        assert not echoed[0]["stream_id"].endswith(user)
