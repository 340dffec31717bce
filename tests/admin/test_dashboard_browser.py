"""The ``/admin`` dashboard in a real browser (Playwright on Debian's Chromium) against a
real ``headwater serve`` running FormEase. Each test saves screenshots under
``artifacts/dashboard/`` (``HEADWATER_ARTIFACTS`` moves it)."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright import sync_api as playwright

from headwater.eventstore import create_event_store
from headwater.jobs import SqlJobQueue
from headwater.testing._server import serve
from tests.admin.short_tokens_app import TOKEN_SECONDS
from tests.apps.formease.conftest import APPS, ENV, PASSWORD, ROOT_EMAIL, ROOT_PASSWORD, Operator
from tests.apps.formease.conftest import _login as login
from tests.apps.formease.conftest import _operator as make_operator
from tests.apps.formease.support import (
    TEXT,
    data,
    error,
    new_user,
    open_form,
    published_form,
    submit,
)
from tests.security.support import ROOT_EMAIL as SECURITY_ROOT_EMAIL
from tests.security.support import ROOT_PASSWORD as SECURITY_ROOT_PASSWORD

pytestmark = pytest.mark.slow

ADMIN_EMAIL = "tenant_admin@alpha.example"  # made by make_operator(..., "Alpha")


@dataclass
class Site:
    url: str
    http: httpx.Client
    op: Operator
    store_url: str


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    workdir = tmp_path_factory.mktemp("dashboard")
    url = f"sqlite:///{workdir / 'events.db'}"
    with (
        serve(url, workdir=workdir, apps=APPS, env=ENV) as server,
        httpx.Client(base_url=server.url, timeout=60) as http,
    ):
        root = login(http, ROOT_EMAIL, ROOT_PASSWORD)
        yield Site(server.url, http, make_operator(http, root, "Alpha"), url)


@pytest.fixture
def page(chromium: str) -> Iterator[Any]:
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on(
                "console",
                lambda msg: errors.append(msg.text) if msg.type == "error" else None,
            )
            yield page
            # Refused requests the tests make on purpose log a console error; nothing else may.
            unexpected = [e for e in errors if "status of 40" not in e]
            assert unexpected == [], unexpected
        finally:
            browser.close()


def shot(page: Any, request: pytest.FixtureRequest, step: str) -> None:
    folder = Path(request.config.rootpath) / "artifacts" / "dashboard"
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{request.node.name}-{step}.png"), full_page=True)


def sign_in(page: Any, site: Site) -> None:
    page.goto(f"{site.url}/admin")
    playwright.expect(page.locator("#signin-form")).to_be_visible(timeout=10_000)
    page.fill("input[name=email]", ADMIN_EMAIL)
    page.fill("input[name=password]", PASSWORD)
    page.click("#signin-form button[type=submit]")
    playwright.expect(page.locator("#dashboard")).to_be_visible(timeout=10_000)
    playwright.expect(page.locator("#live")).to_have_text("live", timeout=10_000)


def submit_once(site: Site) -> str:
    http, op = site.http, site.op
    form = published_form(http, op, new_user(http, op, "premium"), {"name": TEXT})
    opened = open_form(http, op, form)
    return str(data(submit(http, op, opened["token"], {"name": "Ada"}), 201)["submission_id"])


def test_signing_in_opens_the_dashboard_and_a_wrong_password_does_not(
    site: Site, page: Any, request: pytest.FixtureRequest
) -> None:
    page.goto(f"{site.url}/admin")
    playwright.expect(page.locator("#signin-form")).to_be_visible(timeout=10_000)
    page.fill("input[name=email]", ADMIN_EMAIL)
    page.fill("input[name=password]", "not the password")
    page.click("#signin-form button[type=submit]")
    playwright.expect(page.locator("#signin-error")).not_to_be_empty(timeout=10_000)
    assert page.locator("#dashboard").is_hidden()
    shot(page, request, "refused")

    sign_in(page, site)
    playwright.expect(page.locator("#who")).to_contain_text("tenant_admin")
    playwright.expect(page.locator("#panel-formease-user-stats table")).to_be_visible()
    playwright.expect(page.locator("#projections tbody tr").first).to_be_visible()
    shot(page, request, "signed-in")
    # The form-metrics charts read the range the admin picks.
    metrics = page.locator("#panel-formease-form-metrics")
    playwright.expect(metrics).to_have_attribute("data-source", re.compile(r"days=30$"))
    metrics.locator("select[data-filter=days]").select_option("7")
    playwright.expect(metrics).to_have_attribute("data-source", re.compile(r"days=7$"))
    # The session survives a reload: headwater.js keeps it in localStorage.
    page.reload()
    playwright.expect(page.locator("#live")).to_have_text("live", timeout=10_000)


def test_a_submission_through_the_api_reaches_the_feed_and_the_charts_without_reload(
    site: Site, page: Any, request: pytest.FixtureRequest
) -> None:
    sign_in(page, site)
    metrics = page.locator("#panel-formease-form-metrics")
    playwright.expect(metrics).to_have_attribute("data-total", re.compile(r"^\d+"), timeout=10_000)
    before = int(metrics.get_attribute("data-total"))
    requests_chart = page.locator("#chart-requests")
    points = int(requests_chart.get_attribute("data-points") or 0)
    page.evaluate("window.__sameDocument = true")  # gone if the page reloads

    submission_id = submit_once(site)

    received = page.locator("#feed li[data-name='submission.received']", has_text=submission_id)
    playwright.expect(received).to_be_visible(timeout=10_000)
    playwright.expect(received).to_have_class("fresh")
    playwright.expect(metrics).to_have_attribute("data-total", str(before + 1), timeout=10_000)
    # The node's charts move on the next metrics.updated notice (every few seconds).
    for _ in range(60):
        if int(requests_chart.get_attribute("data-points") or 0) > points:
            break
        page.wait_for_timeout(250)
    assert int(requests_chart.get_attribute("data-points") or 0) > points
    assert page.evaluate("window.__sameDocument") is True
    shot(page, request, "after-submission")


def _park_a_critical_change(site: Site) -> tuple[str, str]:
    http, op = site.http, site.op
    user = new_user(http, op, "free")
    base = data(http.get(f"/formease/users/{user}", headers=op.staff))["version"]
    first = {"based_on_version": base, "plan": "premium"}
    data(http.patch(f"/formease/users/{user}", json=first, headers=op.staff))
    second = {"based_on_version": base, "plan": "enterprise"}
    parked = error(http.patch(f"/formease/users/{user}", json=second, headers=op.admin), 202)
    return user, parked["details"]["review_id"]


def test_a_conflict_is_resolved_from_the_review_queue(
    site: Site, page: Any, request: pytest.FixtureRequest
) -> None:
    sign_in(page, site)
    user, review_id = _park_a_critical_change(site)
    review = page.locator(f"[data-review='{review_id}']")
    # Parked after the page loaded: the review.opened event brings it in.
    playwright.expect(review).to_be_visible(timeout=10_000)
    playwright.expect(review).to_contain_text("enterprise")
    shot(page, request, "queued")
    review.locator("[data-action=accept]").click()
    playwright.expect(review).to_have_count(0, timeout=10_000)
    shot(page, request, "accepted")
    state = data(site.http.get(f"/formease/users/{user}", headers=site.op.staff))
    assert state["plan"] == "enterprise"
    queue = data(site.http.get("/formease/admin/reviews", headers=site.op.staff))
    assert review_id not in {r["review_id"] for r in queue}


def test_a_form_post_without_the_csrf_token_is_refused(
    site: Site, page: Any, request: pytest.FixtureRequest
) -> None:
    sign_in(page, site)
    # The dashboard signs in with bearer tokens; a cookie session is what a forged
    # form would ride on, so this browser holds one too (shared by the context).
    opened = page.request.post(
        f"{site.url}/auth/session", data={"email": ADMIN_EMAIL, "password": PASSWORD}
    )
    assert opened.status == 200, opened.text()
    user, review_id = _park_a_critical_change(site)
    # What a forged form does: a plain POST that carries the session cookie, no token.
    with page.expect_navigation():
        page.evaluate(
            """(action) => {
                const form = document.createElement("form");
                form.method = "POST";
                form.action = action;
                document.body.append(form);
                form.submit();
            }""",
            f"/formease/admin/reviews/{review_id}/accept",
        )
    body = json.loads(page.locator("body").inner_text())
    assert body["error"]["code"] == "csrf_failed", body
    shot(page, request, "refused")
    # Nothing happened: the review is still open and the plan unchanged.
    queue = data(site.http.get("/formease/admin/reviews", headers=site.op.staff))
    assert review_id in {r["review_id"] for r in queue}
    state = data(site.http.get(f"/formease/users/{user}", headers=site.op.staff))
    assert state["plan"] == "premium"


def test_a_projection_is_rebuilt_from_its_button(
    site: Site, page: Any, request: pytest.FixtureRequest
) -> None:
    submit_once(site)  # something in the log for the rebuild to replay
    sign_in(page, site)
    page.on("dialog", lambda dialog: dialog.accept())  # "Rebuild fe_users from the log?"
    row = page.locator("#projections tr[data-projection='fe_users']")
    row.locator("button").click()
    # The table refreshes with every metrics.updated notice: running, then done.
    playwright.expect(row.locator(".rebuild-state")).to_have_text("done", timeout=20_000)
    playwright.expect(row.locator("button")).to_be_enabled()
    shot(page, request, "rebuilt")
    users = data(site.http.get("/formease/admin/user-stats", headers=site.op.staff))
    assert users, "the rebuilt read model lost its rows"


def test_the_user_table_filters_and_pages_through_the_read_model(
    site: Site, page: Any, request: pytest.FixtureRequest
) -> None:
    http, op = site.http, site.op
    tag = f"pager{uuid.uuid4().hex[:6]}"
    for n in range(26):  # one more than a page (the panel asks for 25)
        plan = "enterprise" if n == 0 else "free"
        new_user(http, op, plan, email=f"{tag}-{n}@customer.example")
    sign_in(page, site)
    users = page.locator("#panel-formease-user-stats")
    users.locator("input[data-filter=search]").fill(tag)
    playwright.expect(users).to_have_attribute(
        "data-source", re.compile(f"search={tag}$"), timeout=10_000
    )
    playwright.expect(users).to_have_attribute("data-rows", "25")
    next_page = users.locator("button[data-page=next]")
    playwright.expect(next_page).to_be_enabled()
    next_page.click()
    playwright.expect(users).to_have_attribute("data-page", "2", timeout=10_000)
    playwright.expect(users).to_have_attribute("data-rows", "1")
    playwright.expect(users.locator("button[data-page=next]")).to_be_disabled()
    shot(page, request, "second-page")
    users.locator("button[data-page=previous]").click()
    playwright.expect(users).to_have_attribute("data-page", "1", timeout=10_000)
    users.locator("select[data-filter=plan]").select_option("enterprise")
    playwright.expect(users).to_have_attribute("data-rows", "1", timeout=10_000)
    playwright.expect(users.locator("tbody")).to_contain_text(f"{tag}-0@customer.example")


@pytest.fixture(scope="module")
def short_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """FormEase behind access tokens of a few seconds (``short_tokens_app``)."""
    workdir = tmp_path_factory.mktemp("dashboard-short")
    url = f"sqlite:///{workdir / 'events.db'}"
    apps = ["tests.admin.short_tokens_app:module", *APPS]
    with (
        serve(url, workdir=workdir, apps=apps, env=ENV) as server,
        httpx.Client(base_url=server.url, timeout=60) as http,
    ):
        root = login(http, SECURITY_ROOT_EMAIL, SECURITY_ROOT_PASSWORD)
        yield Site(server.url, http, make_operator(http, root, "Alpha"), url)


def test_the_dashboard_outlives_its_tokens_and_shows_a_respondents_submission(
    short_site: Site, page: Any, request: pytest.FixtureRequest
) -> None:
    site = short_site
    http, op = site.http, site.op
    # The form and its public link first, while the operator's own tokens are fresh.
    form = published_form(http, op, new_user(http, op, "premium"), {"name": TEXT})
    link = data(http.post(f"/formease/forms/{form}/public-link", headers=op.staff), 201)

    statuses: list[tuple[str, int]] = []
    page.on("response", lambda r: statuses.append((httpx.URL(r.url).path, r.status)))
    sign_in(page, site)
    # Three token lives and more, then a reload: still signed in, still live.
    page.wait_for_timeout((3 * TOKEN_SECONDS + 2) * 1000)
    page.reload()
    playwright.expect(page.locator("#dashboard")).to_be_visible(timeout=10_000)
    playwright.expect(page.locator("#live")).to_have_text("live", timeout=10_000)
    page.wait_for_timeout(TOKEN_SECONDS * 1000)
    playwright.expect(page.locator("#live")).to_have_text("live")
    refused = [p for p, status in statuses if status == 401]
    assert refused == [], refused  # refreshed before expiry: no 401 at all, no storm
    assert sum(1 for p, _ in statuses if p == "/auth/refresh") >= 3

    # A respondent answers on the public page; the dashboard's feed shows it live.
    respondent = page.context.browser.new_page()
    respondent.goto(site.url + link["url"])
    respondent.get_by_label("Name").fill("Respondent Rosa")
    respondent.get_by_role("button", name="Send").click()
    respondent.get_by_role("heading", name="Thank you").wait_for(timeout=10_000)
    op.staff = login(http, "staff@alpha.example")
    stored = data(http.get("/formease/submissions", params={"form_id": form}, headers=op.staff))
    assert len(stored) == 1
    received = page.locator(
        "#feed li[data-name='submission.received']", has_text=stored[0]["submission_id"]
    )
    playwright.expect(received).to_be_visible(timeout=10_000)
    shot(page, request, "respondent-in-feed")


def enqueue_scheduled(site: Site, count: int) -> None:
    """Jobs of the admin's tenant that stay scheduled (due in an hour, no handler),
    written to the server's database the way ``headwater jobs`` does, from outside."""

    async def enqueue() -> None:
        store = await create_event_store(site.store_url)
        try:
            queue, later = SqlJobQueue(store), datetime.now(UTC) + timedelta(hours=1)
            for n in range(count):
                await queue.enqueue(
                    "report.idle", {"n": n}, run_at=later, tenant_id=site.op.tenant_id
                )
        finally:
            await store.close()

    # Playwright's sync API keeps an event loop on this thread: run ours on another.
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, enqueue()).result()


def test_the_jobs_table_pages_and_sorts(
    site: Site, page: Any, request: pytest.FixtureRequest
) -> None:
    enqueue_scheduled(site, 55)
    counted = site.http.get(
        "/admin/api/jobs",
        params={"state": "scheduled", "total": "true", "limit": 1},
        headers=site.op.admin,
    )
    total = counted.json()["pagination"]["total"]
    assert 55 <= total < 100, counted.text
    sign_in(page, site)
    page.locator("#job-state").select_option("scheduled")
    rows, pager = page.locator("#jobs tbody tr"), page.locator("#job-pager")
    playwright.expect(rows).to_have_count(50, timeout=10_000)
    playwright.expect(pager).to_have_attribute("data-page", "1")
    playwright.expect(pager.locator("[data-page=previous]")).to_be_disabled()
    pager.locator("[data-page=next]").click()
    playwright.expect(pager).to_have_attribute("data-page", "2", timeout=10_000)
    playwright.expect(rows).to_have_count(total - 50)
    playwright.expect(pager.locator("[data-page=next]")).to_be_disabled()
    playwright.expect(page.locator("#job-depth")).to_contain_text("scheduled")
    shot(page, request, "jobs-page-2")
    pager.locator("[data-page=previous]").click()
    playwright.expect(pager).to_have_attribute("data-page", "1", timeout=10_000)
    playwright.expect(rows).to_have_count(50)
    # Another sort starts again from the first page.
    pager.locator("[data-page=next]").click()
    playwright.expect(pager).to_have_attribute("data-page", "2", timeout=10_000)
    page.locator("#job-sort").select_option("attempts")
    playwright.expect(pager).to_have_attribute("data-page", "1", timeout=10_000)
    playwright.expect(rows).to_have_count(50)
