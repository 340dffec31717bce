"""The pages in a real browser (Playwright on Debian's Chromium) against a real server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright import sync_api as playwright

from headwater.testing._server import serve
from tests.apps.qrevent.support import PASSWORD_OF_STAFF, Organizer, organizer
from tests.apps.qrevent.test_games import QUESTIONS
from tests.apps.qrevent.test_story_server import ENV

APPS = [
    "tests.http.routes.serve_app:module",
    "apps.qrevent.module:realtime",
    "apps.qrevent.module:module",
]

pytestmark = pytest.mark.slow


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[str, Organizer]]:
    url = f"sqlite:///{tmp_path / 'pages.db'}"
    with (
        serve(url, workdir=tmp_path, apps=APPS, env=ENV) as server,
        httpx.Client(base_url=server.url, timeout=30) as http,
    ):
        yield server.url, organizer(http, "Browser Weddings")


@pytest.fixture
def page(site: tuple[str, Organizer], chromium: str) -> Iterator[Any]:
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            yield browser.new_page()
        finally:
            browser.close()


def _sign_in(page: Any, org: Organizer) -> None:
    page.fill("input[name=email]", org.tenant.staff_email)
    page.fill("input[name=password]", PASSWORD_OF_STAFF)
    page.click("#login button")


def test_the_leaderboard_page_updates_live_when_a_play_is_posted(
    site: tuple[str, Organizer], page: Any
) -> None:
    base, org = site
    event_id = org.live_event()
    code = org.invite(event_id, guest_id=org.guest(event_id, "Margaret", "Hamilton"))["code"]
    body = {"title": "Screen quiz", "questions": QUESTIONS}
    game_id = org.data(org.post(f"/api/events/{event_id}/games", body), 201)["game_id"]
    org.data(org.post(f"/api/games/{game_id}/status", {"status": "open"}))
    page.goto(f"{base}/qrevent/screen?game={game_id}")
    _sign_in(page, org)
    playwright.expect(page.locator("#status")).to_have_text("Live", timeout=10_000)
    assert page.locator("#board li").count() == 0
    guest = {"x-invitation": code}
    org.data(org.client.post(f"/api/games/{game_id}/join", headers=guest))
    answer = {"question_id": "q1", "choice": 1}
    org.data(org.client.post(f"/api/games/{game_id}/play", json=answer, headers=guest))
    first = page.locator("#board li").first
    playwright.expect(first).to_contain_text("Margaret H.", timeout=10_000)
    playwright.expect(first).to_contain_text("10", timeout=10_000)


def test_the_door_page_checks_a_guest_in(site: tuple[str, Organizer], page: Any) -> None:
    base, org = site
    event_id = org.live_event()
    code = org.invite(event_id, guest_id=org.guest(event_id))["code"]
    page.goto(f"{base}/qrevent/door?event={event_id}")
    _sign_in(page, org)
    playwright.expect(page.locator("#door")).to_be_visible(timeout=10_000)
    page.fill("#code", f"{base}/qrevent/i#{code}")  # what a camera reads off the QR code
    page.click("#typed button")
    playwright.expect(page.locator("#login")).to_be_hidden()
    result = page.locator("#result")
    playwright.expect(result).to_have_text("Welcome in, Ada Lovelace", timeout=10_000)
    playwright.expect(result).to_have_class("result green")
    playwright.expect(page.locator("#counts")).to_contain_text("Checked in 1")
    page.fill("#code", code)
    page.click("#typed button")
    playwright.expect(result).to_contain_text("Ada Lovelace is already inside")
    playwright.expect(result).to_have_class("result orange")
    page.fill("#code", "not a code")
    page.click("#typed button")
    playwright.expect(result).to_have_text("Refused: This is not an invitation code.")
    assert org.counts(event_id)["checked_in"] == 1
