"""The guest page shows suggested games with their reason, in a real browser."""

from __future__ import annotations

import time
from typing import Any

import pytest
from playwright import sync_api as playwright

from tests.apps.qrevent.support import Organizer
from tests.apps.qrevent.test_games import QUESTIONS
from tests.apps.qrevent.test_pages_browser import page, site  # noqa: F401 - fixtures

pytestmark = pytest.mark.slow


def test_the_guest_page_suggests_a_game_with_its_reason(
    site: tuple[str, Organizer],  # noqa: F811
    page: Any,  # noqa: F811
) -> None:
    base, org = site
    event_id = org.live_event()
    games = {}
    for title in ("Quiz", "Bingo"):
        body = {"title": title, "questions": QUESTIONS}
        games[title] = org.data(org.post(f"/api/events/{event_id}/games", body), 201)["game_id"]
        org.data(org.post(f"/api/games/{games[title]}/status", {"status": "open"}))
    for name in ("Ada", "Bob"):
        other = {"x-invitation": org.invite(event_id, guest_id=org.guest(event_id, name))["code"]}
        for game_id in games.values():
            org.data(org.client.post(f"/api/games/{game_id}/join", headers=other))
    code = org.invite(event_id, guest_id=org.guest(event_id, "Dee"))["code"]
    me = {"x-invitation": code}
    org.data(org.client.post(f"/api/games/{games['Quiz']}/join", headers=me))
    deadline = time.monotonic() + 10  # the model catches up asynchronously
    while not org.data(org.client.get("/api/me/suggested-games", headers=me))["games"]:
        assert time.monotonic() < deadline, "no suggestion appeared"
        time.sleep(0.05)

    page.goto(f"{base}/qrevent/i#{code}")
    suggestion = page.locator("#suggested-list li").first
    playwright.expect(suggestion).to_contain_text("Bingo", timeout=10_000)
    playwright.expect(suggestion).to_contain_text("players of Quiz also played this")
