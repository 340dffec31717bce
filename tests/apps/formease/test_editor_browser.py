"""The form editor in a real browser (Playwright on Debian's Chromium), two admins in
two browser contexts: an edit made offline is queued (headwater.js, IndexedDB), kept
across a reload without network, and sent once when the network is back; when the
other admin changed the title meanwhile, the page shows base, mine and theirs and the
user picks. Screenshots go to ``artifacts/editor/``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright import sync_api as playwright

from headwater.testing._server import serve
from tests.apps.formease.conftest import APPS, ENV, PASSWORD, ROOT_EMAIL, ROOT_PASSWORD, Operator
from tests.apps.formease.conftest import _login as login
from tests.apps.formease.conftest import _operator as make_operator
from tests.apps.formease.support import data, new_form, new_user

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, httpx.Client, Operator]]:
    workdir = tmp_path_factory.mktemp("editor")
    url = f"sqlite:///{workdir / 'events.db'}"
    with (
        serve(url, workdir=workdir, apps=APPS, env=ENV) as server,
        httpx.Client(base_url=server.url, timeout=60) as http,
    ):
        root = login(http, ROOT_EMAIL, ROOT_PASSWORD)
        yield server.url, http, make_operator(http, root, "Alpha")


def _open(browser: Any, url: str, email: str) -> tuple[Any, Any, list[str]]:
    context = browser.new_context()
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(url)
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("#login button")
    playwright.expect(page.locator("#editor")).to_be_visible(timeout=10_000)
    return context, page, errors


def test_an_offline_edit_is_sent_once_and_a_conflict_shows_base_mine_and_theirs(
    site: tuple[str, httpx.Client, Operator], chromium: str, request: pytest.FixtureRequest
) -> None:
    base, http, op = site
    form = new_form(http, op, new_user(http, op, "premium"))
    start = data(http.get(f"/formease/forms/{form}", headers=op.staff))
    folder = Path(request.config.rootpath) / "artifacts" / "editor"
    folder.mkdir(parents=True, exist_ok=True)
    url = f"{base}/formease/edit?form={form}"
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            ours, me, my_errors = _open(browser, url, "staff@alpha.example")
            _, them, their_errors = _open(browser, url, "tenant_admin@alpha.example")
            playwright.expect(me.locator("#title")).to_have_value(start["title"])
            playwright.expect(me.locator("body")).to_have_attribute(
                "data-offline-ready", "true", timeout=15_000
            )

            # Mine, offline: queued, and still queued after a reload without network.
            ours.set_offline(True)
            me.fill("#title", "Mine")
            me.click("#edit button")
            playwright.expect(me.locator("#queue")).to_have_text("1 edit(s) waiting to be sent")
            me.reload()
            playwright.expect(me.locator("#editor")).to_be_visible(timeout=10_000)
            playwright.expect(me.locator("#queue")).to_have_text(
                "1 edit(s) waiting to be sent", timeout=10_000
            )
            me.screenshot(path=str(folder / "offline-queued.png"), full_page=True)

            # Theirs, online, meanwhile.
            them.fill("#title", "Theirs")
            them.click("#edit button")
            playwright.expect(them.locator("#saved")).to_contain_text("Saved", timeout=10_000)

            # Back online: my edit is sent once and refused with the three titles.
            ours.set_offline(False)
            conflict = me.locator("#conflict")
            playwright.expect(conflict).to_be_visible(timeout=20_000)
            playwright.expect(me.locator("#c-base")).to_have_text(start["title"])
            playwright.expect(me.locator("#c-mine")).to_have_text("Mine")
            playwright.expect(me.locator("#c-theirs")).to_have_text("Theirs")
            playwright.expect(me.locator("#queue")).to_have_text("")
            me.screenshot(path=str(folder / "conflict.png"), full_page=True)
            assert data(http.get(f"/formease/forms/{form}", headers=op.staff))["title"] == "Theirs"

            me.click("#keep-mine")
            playwright.expect(me.locator("#saved")).to_contain_text("Saved", timeout=10_000)
            playwright.expect(conflict).to_be_hidden()
            me.screenshot(path=str(folder / "kept-mine.png"), full_page=True)
        finally:
            browser.close()
    assert my_errors == [], my_errors
    assert their_errors == [], their_errors
    final = data(http.get(f"/formease/forms/{form}", headers=op.staff))
    assert final["title"] == "Mine"
    # Exactly three edits reached the form: theirs, and mine once (after the refusal).
    assert final["version"] == start["version"] + 2, (start, final)
