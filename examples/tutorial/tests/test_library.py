"""Steps 4 to 8 against a real server: routes, roles and tenancy, the topic and its
page, the job, the dashboard panel, and the tenant-isolation probe."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
from headwater.testing import Victim, probe_tenant_isolation

from tests.conftest import PASSWORD, World


def _add(world: World, title: str, staff: dict[str, str]) -> str:
    added = world.http.post(
        "/library/books", json={"title": title, "author": "Anon"}, headers=staff
    )
    assert added.status_code == 201, added.text
    book_id: str = added.json()["data"]["book_id"]
    return book_id


def _books(world: World, headers: dict[str, str]) -> list[dict[str, Any]]:
    response = world.http.get("/library/books", headers=headers)
    assert response.status_code == 200, response.text
    books: list[dict[str, Any]] = response.json()["data"]
    return books


# --8<-- [start:routes]
def test_staff_add_and_lend_and_users_read_at_once(world: World) -> None:
    book_id = _add(world, "Middlemarch", world.a.staff)
    lend = world.http.post(
        f"/library/books/{book_id}/lend", json={"to": "Ada"}, headers=world.a.staff
    )
    assert lend.status_code == 200, lend.text
    mine = {b["book_id"]: b for b in _books(world, world.a.user)}
    assert mine[book_id]["lent_to"] == "Ada"  # the inline shelf is never behind


def test_roles_and_tenants_guard_the_routes(world: World) -> None:
    book_id = _add(world, "Persuasion", world.a.staff)
    http = world.http
    assert http.get("/library/books").status_code == 401  # nobody signed in
    as_user = http.post("/library/books", json={"title": "x", "author": "y"}, headers=world.a.user)
    assert as_user.status_code == 403  # users read, staff write
    other = http.post(f"/library/books/{book_id}/lend", json={"to": "Eve"}, headers=world.b.staff)
    assert other.status_code == 404  # another tenant's book does not exist for them
    assert book_id not in {b["book_id"] for b in _books(world, world.b.user)}
    # --8<-- [end:routes]


# --8<-- [start:topic]
def test_the_shelf_topic_pushes_each_change(world: World) -> None:
    url = f"{world.server.url}/realtime/sse"
    params = {"channel": "library.shelf:all"}
    with (
        httpx.Client(timeout=15) as client,
        client.stream("GET", url, params=params, headers=world.b.user) as stream,
    ):
        assert stream.status_code == 200
        lines = stream.iter_lines()
        for line in lines:  # subscribed first, so the push below cannot be missed
            if line.startswith("event: subscribed"):
                break
        _add(world, "Pushed", world.b.staff)
        for line in lines:  # the first push may be the shelf as it was
            if line.startswith("data:") and '"topic"' in line:
                books = json.loads(line.removeprefix("data:"))["data"]["books"]
                if "Pushed" in [book["title"] for book in books]:
                    return
    raise AssertionError("no push with the new book")


def test_the_page_follows_the_topic_with_the_browser_session(world: World) -> None:
    page = world.http.get("/library/page")
    assert page.status_code == 200
    assert "/realtime/sse?channel=library.shelf:all" in page.text
    # What the browser holds after signing in at /admin: the session cookie.
    signed_in = httpx.post(
        f"{world.server.url}/auth/session",
        json={"email": "user@alpha.example", "password": PASSWORD},
    )
    assert signed_in.status_code == 200, signed_in.text
    cookie = {"cookie": f"hw_session={signed_in.cookies['hw_session']}"}
    url = f"{world.server.url}/realtime/sse?channel=library.shelf:all"
    with httpx.Client(timeout=15) as client, client.stream("GET", url, headers=cookie) as stream:
        assert stream.status_code == 200
        assert any(line.startswith("event: subscribed") for line in stream.iter_lines())
    # --8<-- [end:topic]


# --8<-- [start:job]
def test_each_loan_runs_the_reminder_job(world: World) -> None:
    book_id = _add(world, "Emma", world.b.staff)
    world.http.post(f"/library/books/{book_id}/lend", json={"to": "Grace"}, headers=world.b.staff)
    deadline = time.monotonic() + 15
    while "Grace" not in world.http.get("/library/reminders", headers=world.b.user).text:
        assert time.monotonic() < deadline, "the job did not run"
        time.sleep(0.1)
    assert "Grace" not in world.http.get("/library/reminders", headers=world.a.user).text
    # --8<-- [end:job]


# --8<-- [start:panel]
def test_the_dashboard_shows_the_shelf_panel(world: World) -> None:
    overview = world.http.get("/admin/api/overview", headers=world.a.admin)  # tenant admins
    assert overview.status_code == 200, overview.text
    panels = {p["id"]: p for p in overview.json()["data"]["panels"]}
    assert panels["library-shelf"]["source"] == "/library/books"
    # --8<-- [end:panel]


# --8<-- [start:probe]
def test_no_library_route_answers_another_tenant(world: World) -> None:
    book_id = _add(world, "Secretbook", world.a.staff)
    paths = world.http.get("/openapi.json").json()["paths"]
    not_ours = {
        (method.upper(), path): "a framework route, probed by Headwater's own tests"
        for path, item in paths.items()
        if not path.startswith("/library/")
        for method in item
    }
    report = probe_tenant_isolation(
        world.http,
        attacker=lambda: world.b.staff,
        victim=Victim(ids={"book_id": book_id}, markers=["Secretbook"]),
        skip=not_ours,
    )
    report.assert_isolated()
    assert len(report.results) == 5
    # --8<-- [end:probe]
