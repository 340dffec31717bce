"""The admin channel carries FormEase's events by their admin names, per tenant."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson
from websockets.sync.client import ClientConnection, connect

from tests.apps.formease.conftest import World
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
