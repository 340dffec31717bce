"""The respondent's page in a real browser (Playwright on Debian's Chromium), on a phone's
viewport, against a real ``headwater serve`` with rate limits on: open the public link,
fill a branching form (a hidden field appears when its branch is chosen), correct a
refused answer, submit; the submission is stored with its completion time. Screenshots
go to ``artifacts/respond/``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright import sync_api as playwright

from headwater.testing._server import serve
from tests.apps.formease.conftest import APPS, ENV, ROOT_EMAIL, ROOT_PASSWORD, Operator, bearer
from tests.apps.formease.conftest import _login as login
from tests.apps.formease.support import data, new_user, published_form

pytestmark = pytest.mark.slow

FIELDS = {
    "name": {"type": "text", "label": "Your name", "required": True, "order": 1, "max_length": 40},
    "email": {"type": "email", "label": "Email", "required": True, "order": 2},
    "came": {
        "type": "choice",
        "label": "How did you come?",
        "required": True,
        "order": 3,
        "options": ["car", "bike", "foot"],
    },
    "parking": {
        "type": "rating",
        "label": "Parking",
        "required": True,
        "order": 4,
        "show_if": {"field": "came", "equals": "car"},
    },
    "again": {"type": "boolean", "label": "Come again?", "order": 5},
}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, httpx.Client, Operator]]:
    workdir = tmp_path_factory.mktemp("respond")
    url = f"sqlite:///{workdir / 'events.db'}"
    env = {**ENV, "HEADWATER_RATE_LIMITS": "true"}
    with (
        serve(url, workdir=workdir, apps=APPS, env=env) as server,
        httpx.Client(base_url=server.url, timeout=60) as http,
    ):
        # One sign-in (the limits are on): the platform admin acts for a new tenant.
        root = login(http, ROOT_EMAIL, ROOT_PASSWORD)
        tenant = data(http.post("/admin/tenants", json={"name": "Alpha"}, headers=root), 201)
        acting = http.post("/auth/act-as", json={"tenant_id": tenant["id"]}, headers=root)
        staff = bearer(data(acting)["access_token"])
        yield server.url, http, Operator(tenant["id"], staff, staff, staff)


def test_a_respondent_fills_a_branching_form_on_a_phone(
    site: tuple[str, httpx.Client, Operator], chromium: str, request: pytest.FixtureRequest
) -> None:
    base, http, op = site
    form = published_form(http, op, new_user(http, op, "premium"), FIELDS)
    link = data(http.post(f"/formease/forms/{form}/public-link", headers=op.staff), 201)
    folder = Path(request.config.rootpath) / "artifacts" / "respond"
    folder.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            phone = p.devices["Pixel 7"]
            context = browser.new_context(**{**phone, "is_mobile": True, "has_touch": True})
            page = context.new_page()
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on(
                "console",
                lambda msg: (
                    errors.append(msg.text)
                    if msg.type == "error" and "status of 400" not in msg.text
                    else None
                ),
            )
            page.goto(base + link["url"])
            page.get_by_role("heading", name="Survey").wait_for()
            parking = page.locator('[data-key="parking"]')
            assert parking.is_hidden()  # the branch is not taken yet
            page.get_by_label("Your name").fill("Ann")
            page.get_by_label("Email").fill("not an email")
            page.get_by_label("car").check()
            parking.wait_for(state="visible")  # the branch opened
            page.screenshot(path=str(folder / "filled.png"), full_page=True)
            page.get_by_role("button", name="Send").click()
            # Checked before sending, as the API checks: the email and the branch's rating.
            page.get_by_text("Please enter an email address.").wait_for()
            assert page.locator('[data-key="parking"] .error').inner_text() == "Please answer this."
            page.get_by_label("Email").fill("ann@example.org")
            parking.get_by_label("4").check()
            page.get_by_label("Yes").check()
            page.screenshot(path=str(folder / "corrected.png"), full_page=True)
            page.get_by_role("button", name="Send").click()
            page.get_by_role("heading", name="Thank you").wait_for()
            page.screenshot(path=str(folder / "sent.png"), full_page=True)
            # The page fits the phone: nothing wider than its viewport.
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= phone["viewport"]["width"]
        finally:
            browser.close()
    assert errors == [], errors
    stored = data(http.get("/formease/submissions", params={"form_id": form}, headers=op.staff))
    assert len(stored) == 1
    assert stored[0]["answers"] == {
        "name": "Ann",
        "email": "ann@example.org",
        "came": "car",
        "parking": 4,
        "again": True,
    }
    assert stored[0]["completion_ms"] > 0


def test_a_reload_mid_form_keeps_the_answers_and_an_offline_send_is_applied_once(
    site: tuple[str, httpx.Client, Operator], chromium: str, request: pytest.FixtureRequest
) -> None:
    base, http, op = site
    form = published_form(http, op, new_user(http, op, "premium"), FIELDS)
    link = data(http.post(f"/formease/forms/{form}/public-link", headers=op.staff), 201)
    folder = Path(request.config.rootpath) / "artifacts" / "respond"
    folder.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            context = browser.new_context(viewport={"width": 412, "height": 915})
            page = context.new_page()
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(base + link["url"])
            page.get_by_role("heading", name="Survey").wait_for()
            playwright.expect(page.locator("body")).to_have_attribute(
                "data-offline-ready", "true", timeout=15_000
            )
            page.get_by_label("Your name").fill("Bea")
            page.get_by_label("car").check()
            page.locator('[data-key="parking"]').get_by_label("5").check()
            # A reload mid-form: the same session (one open), the answers still there.
            page.reload()
            page.get_by_role("heading", name="Survey").wait_for()
            playwright.expect(page.get_by_label("Your name")).to_have_value("Bea")
            playwright.expect(page.get_by_label("car")).to_be_checked()
            playwright.expect(page.locator('[data-key="parking"]')).to_be_visible()
            page.get_by_label("Email").fill("bea@example.org")
            # Offline: Send is kept, and a reload without network still opens the form.
            context.set_offline(True)
            page.get_by_role("button", name="Send").click()
            page.get_by_text("they will be sent when you are back online").wait_for()
            page.reload()
            page.get_by_role("heading", name="Survey").wait_for()
            playwright.expect(page.get_by_label("Email")).to_have_value("bea@example.org")
            page.screenshot(path=str(folder / "offline-reloaded.png"), full_page=True)
            context.set_offline(False)
            page.get_by_role("heading", name="Thank you").wait_for(timeout=20_000)
            page.screenshot(path=str(folder / "sent-after-offline.png"), full_page=True)
        finally:
            browser.close()
    assert errors == [], errors
    stored = data(http.get("/formease/submissions", params={"form_id": form}, headers=op.staff))
    assert len(stored) == 1  # applied once
    assert stored[0]["answers"] == {
        "name": "Bea",
        "email": "bea@example.org",
        "came": "car",
        "parking": 5,
    }
