"""Every paged list, found in the OpenAPI document, sorts, orders and counts.

The routes come from the document (every GET with a ``cursor``), so a list added
later is walked too: for each column it declares (``x-sortable``) and each order it
allows (``x-orders``), the test reads every page two rows at a time and checks that
the pages neither skip nor repeat a row, that ``pagination.total`` counts them, that
the rows come in the column's order (and ``desc`` is exactly ``asc`` reversed), that
a cursor is bound to its sort, and that an undeclared column is a 400
``unsupported_sort``. Runs on every backend over the apps and the framework's lists.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from apps.assistant.config import AssistantConfig
from apps.assistant.module import AssistantModule
from apps.formease.module import module as formease
from apps.qrevent.module import QrEventModule
from headwater.admin._module import AdminModule
from headwater.app import create_app
from headwater.http._security import SecurityModule
from headwater.observability import ObservabilityModule, send_alert
from headwater.privacy._module import PrivacyModule
from tests.security.support import (
    app_settings,
    bearer,
    create_tenant,
    login,
    root_headers,
    security_config,
)

#: Lists that return the newest few and no pages (no cursor): a game's top scores and
#: the alert rules' change history (a panel's tail). They are not paged lists and
#: declare no sort.
UNPAGED = {"/api/games/{game_id}/leaderboard", "/admin/api/alerts/rules/history"}


class Walk:
    def __init__(self, client: TestClient) -> None:
        self.client = client
        root = root_headers(client)
        tenant = create_tenant(client, root, "Walk Corp")
        create_tenant(client, root, "Another Org")
        admin = tenant.admin(client)
        staff = tenant.staff(client)
        for name in ("a gate", "Zed door", "middle scanner"):
            made = client.post("/api-keys", json={"name": name}, headers=admin)
            assert made.status_code == 201, made.text
        # A member from another tenant, so the tenant's users mix both kinds.
        other = create_tenant(client, root, "Third Ltd")
        member = client.put(
            f"/admin/tenants/{tenant.id}/members",
            json={"email": other.staff_email, "roles": ["staff"]},
            headers=root,
        )
        assert member.status_code == 200, member.text

        events = []
        for name, starts in (("Charlie", "2027-03-01"), ("Alpha", "2027-01-01"), ("Bravo", "")):
            body = {"name": name, "starts_at": starts, "gates": ["main"]}
            made = client.post("/api/events", json=body, headers=staff)
            assert made.status_code == 201, made.text
            events.append(made.json()["data"]["event_id"])
        event = events[0]
        for name in ("Moe", "Amy", "Zed"):
            made = client.post(f"/api/events/{event}/families", json={"name": name}, headers=staff)
            assert made.status_code == 201, made.text
        for first, last in (("Ada", "Lovelace"), ("Alan", "Turing"), ("Grace", "Hopper")):
            body = {"first_name": first, "last_name": last}
            made = client.post(f"/api/events/{event}/guests", json=body, headers=staff)
            assert made.status_code == 201, made.text

        owner = ""
        for email, name in (("c@x.example", "Cy"), ("a@x.example", "Bo"), ("b@x.example", "Al")):
            body = {"email": email, "name": name, "plan": "premium"}
            made = client.post("/formease/users", json=body, headers=staff)
            assert made.status_code == 201, made.text
            owner = made.json()["data"]["user_id"]
        form = client.post(f"/formease/users/{owner}/forms", json={"title": "T"}, headers=staff)
        assert form.status_code == 201, form.text
        form_id = form.json()["data"]["form_id"]
        field = {"type": "text", "label": "Name", "required": True, "order": 1, "max_length": 50}
        edit = client.patch(
            f"/formease/forms/{form_id}", json={"set_fields": {"name": field}}, headers=staff
        )
        assert edit.status_code == 200, edit.text
        assert client.post(f"/formease/forms/{form_id}/publish", headers=staff).status_code == 200
        respondent = bearer(login(client, tenant.user_email)["access_token"])
        for n in range(3):
            opened = client.post(f"/formease/forms/{form_id}/open", headers=respondent)
            assert opened.status_code == 201, opened.text
            body = {"token": opened.json()["data"]["token"], "answers": {"name": f"R{n}"}}
            sent = client.post("/formease/submissions", json=body, headers=respondent)
            assert sent.status_code == 201, sent.text

        # Assistant threads, each asked one question; the walk starts once every reply
        # has ended, so no list moves under it.
        replies = []
        askers = (staff, admin, staff)  # two users, so the usage list has two rows
        for title, asker in zip(("Zebra plans", "apple notes", "Middle"), askers, strict=True):
            body = {"title": title, "messages": [{"role": "user", "content": f"What is {title}?"}]}
            made = client.post("/assistant/threads", json=body, headers=asker)
            assert made.status_code == 201, made.text
            replies.append(made.json()["data"]["reply"]["reply_id"])
        deadline = time.monotonic() + 60
        for reply_id, asker in zip(replies, askers, strict=True):
            while True:
                got = client.get(f"/assistant/replies/{reply_id}", headers=asker)
                assert got.status_code == 200, got.text
                if got.json()["data"]["status"] in ("completed", "failed", "cancelled"):
                    break
                assert time.monotonic() < deadline, got.text
                time.sleep(0.05)

        # The admin's job list (the tenant's jobs, not yet due so none moves under the
        # walk, plus another tenant's, which it must not show) and the alert log.
        runtime = client.app.state.runtime  # type: ignore[attr-defined]

        async def enqueue_and_alert() -> None:
            queue, later = runtime.require_jobs(), datetime.now(UTC) + timedelta(hours=1)
            for n in range(3):
                await queue.enqueue("walk.idle", {"n": n}, run_at=later, tenant_id=tenant.id)
            await queue.enqueue("walk.idle", run_at=later, tenant_id=other.id)
            for n in range(3):
                assert await send_alert("warning", f"walk alert {n}") is not None

        client.portal.call(enqueue_and_alert)

        self.ids = {"event_id": event, "tenant_id": tenant.id}
        self.root, self.admin, self.staff = root, admin, staff

    def headers_for(self, path: str) -> dict[str, str]:
        if path.startswith("/admin/tenants"):
            return self.root
        if path.startswith(("/accounts", "/api-keys", "/tenant/", "/admin/", "/assistant/admin/")):
            return self.admin
        return self.staff


@pytest.fixture
def walk(store_url: str, tmp_path: Path) -> Iterator[tuple[Walk, dict[str, Any]]]:
    privacy = PrivacyModule()
    app = create_app(
        app_settings(store_url, tmp_path),
        plugins=[
            ObservabilityModule(log_level=None),
            SecurityModule(security_config()),
            AdminModule([privacy], interval=3600),
        ],
        apps=[
            QrEventModule(),
            formease,
            privacy,
            AssistantModule(AssistantConfig(local_delay_ms=0)),
        ],
    )
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Walk(client), app.openapi()


def _lists(spec: dict[str, Any]) -> dict[str, dict[str, dict[str, Any]]]:
    found = {}
    for path, ops in spec["paths"].items():
        op = ops.get("get")
        if op is None:
            continue
        params = {p["name"]: p for p in op.get("parameters", [])}
        if "cursor" in params:
            found[path] = params
    return found


def test_every_paged_list_declares_sort_order_and_total(walk: tuple[Walk, dict[str, Any]]) -> None:
    _, spec = walk
    lists = _lists(spec)
    assert len(lists) >= 9, sorted(lists)
    for path, params in lists.items():
        assert {"sort", "order", "total", "limit"} <= set(params), path
        assert params["sort"]["schema"]["x-sortable"], path
        assert params["order"]["schema"]["x-orders"], path
    limited = {
        path
        for path, ops in spec["paths"].items()
        if "get" in ops and any(p["name"] == "limit" for p in ops["get"].get("parameters", []))
    }
    assert limited - set(lists) == UNPAGED


def _walk(
    walk: Walk, path: str, params: dict[str, Any]
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Every page, two rows at a time; the rows and the first page's pagination."""
    rows: list[dict[str, Any]] = []
    first: dict[str, Any] | None = None
    cursor = None
    for _ in range(50):
        query = {**params, "limit": 2, **({"cursor": cursor} if cursor else {})}
        response = walk.client.get(path, params=query, headers=walk.headers_for(path))
        assert response.status_code == 200, (path, query, response.text)
        body = response.json()
        first = first or body["pagination"]
        rows += body["data"]
        cursor = body["pagination"]["cursor"]
        if cursor is None:
            assert first is not None
            return rows, first
    raise AssertionError(f"{path}: more than 50 pages")


def _key(row: dict[str, Any]) -> str:
    return json.dumps(row, sort_keys=True)


def test_every_list_sorts_orders_and_counts(walk: tuple[Walk, dict[str, Any]]) -> None:
    w, spec = walk
    for template, params in _lists(spec).items():
        path = template.format(**w.ids)
        columns = params["sort"]["schema"]["x-sortable"]
        orders = params["order"]["schema"]["x-orders"]
        baseline: set[str] | None = None
        for column in columns:
            by_order = {}
            for order in orders:
                rows, pagination = _walk(w, path, {"sort": column, "order": order, "total": True})
                assert rows, f"{path} is empty: the walk proves nothing there"
                keys = [_key(r) for r in rows]
                assert len(set(keys)) == len(keys), f"{path} {column} {order} repeats a row"
                assert pagination["total"] == len(rows), (path, column, order)
                assert pagination["totalExact"] is True
                baseline = baseline or set(keys)
                assert set(keys) == baseline, f"{path} sorted by {column} lost or added rows"
                values = [r.get(column) for r in rows]
                if (
                    all(isinstance(v, (str, int)) for v in values)
                    and len({type(v) for v in values}) == 1
                ):
                    expected = sorted(values, reverse=order == "desc")
                    assert values == expected, (path, column, order, values)
                by_order[order] = keys
            if len(by_order) == 2:
                assert by_order["desc"] == by_order["asc"][::-1], (path, column)
        # Without total, no total.
        plain = w.client.get(path, params={"limit": 1}, headers=w.headers_for(path))
        assert (
            "total" not in plain.json()["pagination"] or plain.json()["pagination"]["total"] is None
        )
        # An undeclared column, or an order the list cannot read in, is a 400.
        bad = w.client.get(path, params={"sort": "nope"}, headers=w.headers_for(path))
        assert bad.status_code == 400, (path, bad.text)
        assert bad.json()["error"]["code"] == "unsupported_sort"
        assert bad.json()["error"]["details"]["allowed"] == sorted(columns)
        # A cursor is bound to its sort: under another sort or order it is a 400.
        first = w.client.get(path, params={"limit": 1}, headers=w.headers_for(path)).json()
        cursor = first["pagination"]["cursor"]
        assert cursor is not None, path
        default_sort = params["sort"]["schema"]["x-default"]
        default_order = params["order"]["schema"]["x-default"]
        others = [
            *({"sort": c} for c in columns if c != default_sort),
            *({"order": o} for o in orders if o != default_order),
        ]
        if len(columns) > 1:
            assert others, path
        for other in others:
            moved = w.client.get(
                path, params={"limit": 1, "cursor": cursor, **other}, headers=w.headers_for(path)
            )
            assert moved.status_code == 400, (path, other, moved.text)
            assert moved.json()["error"]["code"] == "invalid_cursor"
