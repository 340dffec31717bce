"""headwater.js on QR Event's pages, in a real browser, with access tokens of 3 s.

The door and the screen must outlive many access tokens without a 401 storm, keep
their session across a reload, and the door must keep scanning offline and apply
every kept scan once, in order, when the network comes back. Screenshots go to
var/artifacts/ (gitignored) for a person to look at.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright import sync_api as playwright

from headwater.testing._server import serve
from tests.apps.qrevent.short_tokens_app import TOKEN_SECONDS
from tests.apps.qrevent.support import PASSWORD_OF_STAFF, Organizer, organizer
from tests.apps.qrevent.test_games import QUESTIONS
from tests.apps.qrevent.test_pages_browser import APPS
from tests.apps.qrevent.test_story_server import ENV

pytestmark = pytest.mark.slow

SHORT_TOKENS = ["tests.apps.qrevent.short_tokens_app:module", *APPS[1:]]
ARTIFACTS = Path(__file__).resolve().parents[3] / "var" / "artifacts"


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[str, Organizer]]:
    url = f"sqlite:///{tmp_path / 'client.db'}"
    with (
        serve(url, workdir=tmp_path, apps=SHORT_TOKENS, env=ENV) as server,
        httpx.Client(base_url=server.url, timeout=30) as http,
    ):
        yield server.url, organizer(http, "Client Weddings")


@pytest.fixture
def browser(chromium: str) -> Iterator[Any]:
    with playwright.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            yield launched
        finally:
            launched.close()


class Traffic:
    """The requests a page made, counted from Playwright's events."""

    def __init__(self, page: Any) -> None:
        self.paths: list[tuple[str, int]] = []
        page.on("response", lambda r: self.paths.append((httpx.URL(r.url).path, r.status)))

    def count(self, path: str = "", status: int | None = None) -> int:
        return sum(
            1 for p, s in self.paths if p.startswith(path) and (status is None or s == status)
        )


def _sign_in(page: Any, org: Organizer) -> None:
    page.fill("input[name=email]", org.tenant.staff_email)
    page.fill("input[name=password]", PASSWORD_OF_STAFF)
    page.click("#login button")


def _shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _fresh(org: Organizer) -> Organizer:
    # The organizer's own token lives 3 s too: sign in again before checking.
    org.staff = org.tenant.staff(org.client)
    return org


def test_door_and_screen_keep_working_across_expiries_without_a_401_storm(
    site: tuple[str, Organizer], browser: Any
) -> None:
    base, org = site
    org = _fresh(org)  # 3-second tokens: the fixture's may have run out under load
    event_id = org.live_event()
    names = [f"Guest{i}" for i in range(8)]
    codes = []
    for n in names:
        org = _fresh(org)
        codes.append(org.invite(event_id, guest_id=org.guest(event_id, n, "Doe"))["code"])
    org = _fresh(org)
    body = {"title": "Expiry quiz", "questions": QUESTIONS}
    game_id = org.data(org.post(f"/api/events/{event_id}/games", body), 201)["game_id"]
    org.data(org.post(f"/api/games/{game_id}/status", {"status": "open"}))

    context = browser.new_context()
    door, screen = context.new_page(), context.new_page()
    door_traffic, screen_traffic = Traffic(door), Traffic(screen)
    door.goto(f"{base}/qrevent/door?event={event_id}")
    _sign_in(door, org)
    playwright.expect(door.locator("#door")).to_be_visible(timeout=10_000)
    screen.goto(f"{base}/qrevent/screen?game={game_id}")
    _sign_in(screen, org)
    playwright.expect(screen.locator("#status")).to_have_text("Live", timeout=10_000)
    playwright.expect(screen.locator("#login")).to_be_hidden()

    started = time.monotonic()
    answer = {"question_id": "q1", "choice": 1}
    for index, (name, code) in enumerate(zip(names, codes, strict=True)):
        # One scan and one play every ~1.6 s: 8 rounds span over four token lives.
        time.sleep(1.6)
        door.fill("#code", code)
        door.click("#typed button")
        playwright.expect(door.locator("#result")).to_have_text(
            f"Welcome in, {name} Doe", timeout=10_000
        )
        guest = {"x-invitation": code}
        org.data(org.client.post(f"/api/games/{game_id}/join", headers=guest))
        org.data(org.client.post(f"/api/games/{game_id}/play", json=answer, headers=guest))
        playwright.expect(screen.locator("#board li")).to_have_count(index + 1, timeout=10_000)
    elapsed = time.monotonic() - started
    assert elapsed > 3 * TOKEN_SECONDS, elapsed
    playwright.expect(screen.locator("#status")).to_have_text("Live")
    _shot(door, "door-after-expiries")
    _shot(screen, "screen-after-expiries")

    for traffic in (door_traffic, screen_traffic):
        assert traffic.count(status=401) == 0, traffic.paths
        # Refreshed before each expiry, and not much more often than that.
        refreshes = traffic.count("/auth/refresh", 200)
        assert 3 <= refreshes <= elapsed / (TOKEN_SECONDS * 0.5) + 2, traffic.paths
    # The screen fetched its board once per connection, never polled.
    assert screen_traffic.count("/api/games/") <= 4, screen_traffic.paths
    assert _fresh(org).counts(event_id)["checked_in"] == len(names)

    # A reload keeps the session: no sign-in form, and the stored token is not reused
    # once expired (it is refreshed first), so still no 401.
    time.sleep(TOKEN_SECONDS + 1)
    door.reload()
    playwright.expect(door.locator("#door")).to_be_visible(timeout=10_000)
    playwright.expect(door.locator("#login")).to_be_hidden()
    screen.reload()
    playwright.expect(screen.locator("#status")).to_have_text("Live", timeout=10_000)
    assert door_traffic.count(status=401) == 0, door_traffic.paths
    assert screen_traffic.count(status=401) == 0, screen_traffic.paths

    # Signing out ends it here and on the server: the form is back after a reload.
    door.click("#signout")
    playwright.expect(door.locator("#login")).to_be_visible()
    door.reload()
    playwright.expect(door.locator("#login")).to_be_visible(timeout=10_000)
    playwright.expect(door.locator("#door")).to_be_hidden()
    context.close()


def test_the_door_scans_offline_and_applies_every_scan_once_in_order(
    site: tuple[str, Organizer], browser: Any
) -> None:
    base, org = site
    org = _fresh(org)
    event_id = org.live_event()
    invitations = []
    for i in range(20):
        org = _fresh(org)
        invitations.append(org.invite(event_id, guest_id=org.guest(event_id, f"G{i}")))

    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{base}/qrevent/door?event={event_id}")
    _sign_in(page, org)
    playwright.expect(page.locator("#door")).to_be_visible(timeout=10_000)

    context.set_offline(True)
    for number, invitation in enumerate(invitations, start=1):
        page.fill("#code", invitation["code"])
        page.click("#typed button")
        playwright.expect(page.locator("#queue")).to_have_text(
            f"{number} scan(s) waiting to upload", timeout=10_000
        )
    playwright.expect(page.locator("#result")).to_contain_text("saved")
    _shot(page, "door-offline")
    # Offline long enough for the access token to run out under the queue.
    time.sleep(TOKEN_SECONDS + 1)

    context.set_offline(False)
    playwright.expect(page.locator("#queue")).to_have_text("", timeout=20_000)
    playwright.expect(page.locator("#result")).to_contain_text("Welcome in, G19")
    _shot(page, "door-back-online")

    org = _fresh(org)
    counts = org.counts(event_id)
    assert (counts["checked_in"], counts["alerts"]) == (20, 0)
    received = []
    for invitation in invitations:
        audit = org.data(org.get(f"/api/invitations/{invitation['invitation_id']}/audit"))
        scans = [s for s in audit if s["decision"] == "admitted"]
        assert len(scans) == 1, audit  # applied once
        received.append(scans[0]["received_at"])
    assert received == sorted(received)  # in the order they were scanned
    context.close()


def test_the_door_reloaded_offline_opens_from_its_service_worker_and_replays_once(
    site: tuple[str, Organizer], browser: Any
) -> None:
    base, org = site
    org = _fresh(org)  # the fixture's token may have run out under load
    event_id = org.live_event()
    invitations = []
    for i in range(3):
        org = _fresh(org)
        invitations.append(org.invite(event_id, guest_id=org.guest(event_id, f"R{i}")))

    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{base}/qrevent/door?event={event_id}")
    _sign_in(page, org)
    playwright.expect(page.locator("#door")).to_be_visible(timeout=10_000)
    # The worker has kept the page and its assets before the network goes.
    playwright.expect(page.locator("body")).to_have_attribute(
        "data-offline-ready", "true", timeout=15_000
    )

    context.set_offline(True)
    page.reload()
    playwright.expect(page.locator("#door")).to_be_visible(timeout=10_000)
    _shot(page, "door-reloaded-offline")
    for number, invitation in enumerate(invitations, start=1):
        page.fill("#code", invitation["code"])
        page.click("#typed button")
        playwright.expect(page.locator("#queue")).to_have_text(
            f"{number} scan(s) waiting to upload", timeout=10_000
        )
    # A second reload, still offline: the kept scans are still there, not lost or doubled.
    page.reload()
    playwright.expect(page.locator("#door")).to_be_visible(timeout=10_000)
    time.sleep(TOKEN_SECONDS + 1)  # the access token runs out while offline

    context.set_offline(False)
    playwright.expect(page.locator("#queue")).to_have_text("", timeout=20_000)
    playwright.expect(page.locator("#result")).to_contain_text("Welcome in, R2")

    org = _fresh(org)
    counts = org.counts(event_id)
    assert (counts["checked_in"], counts["alerts"]) == (3, 0)
    for invitation in invitations:
        audit = org.data(org.get(f"/api/invitations/{invitation['invitation_id']}/audit"))
        assert len([s for s in audit if s["decision"] == "admitted"]) == 1, audit
    context.close()


def test_the_screen_runs_on_its_display_link_across_expiries_and_stops_when_revoked(
    site: tuple[str, Organizer], browser: Any
) -> None:
    base, org = site
    org = _fresh(org)
    event_id = org.live_event()
    names = [f"Player{i}" for i in range(6)]
    codes = []
    for name in names:
        org = _fresh(org)
        codes.append(org.invite(event_id, guest_id=org.guest(event_id, name, "Roe"))["code"])
    org = _fresh(org)
    body = {"title": "Display quiz", "questions": QUESTIONS}
    game_id = org.data(org.post(f"/api/events/{event_id}/games", body), 201)["game_id"]
    org.data(org.post(f"/api/games/{game_id}/status", {"status": "open"}))
    link = org.data(org.post(f"/api/events/{event_id}/displays", {"game_id": game_id}), 201)

    context = browser.new_context()
    screen = context.new_page()
    traffic = Traffic(screen)
    screen.goto(base + link["url"])
    playwright.expect(screen.locator("#status")).to_have_text("Live", timeout=10_000)
    playwright.expect(screen.locator("#login")).to_be_hidden()
    assert "#display=" not in screen.url  # the credential left the address bar
    assert traffic.count("/auth/login") == 0  # never a staff sign-in

    started = time.monotonic()
    answer = {"question_id": "q1", "choice": 1}
    for index, code in enumerate(codes):
        time.sleep(2)  # six rounds of 2 s: four token lives
        guest = {"x-invitation": code}
        org.data(org.client.post(f"/api/games/{game_id}/join", headers=guest))
        org.data(org.client.post(f"/api/games/{game_id}/play", json=answer, headers=guest))
        playwright.expect(screen.locator("#board li")).to_have_count(index + 1, timeout=10_000)
    elapsed = time.monotonic() - started
    assert elapsed > 3 * TOKEN_SECONDS, elapsed
    playwright.expect(screen.locator("#status")).to_have_text("Live")
    assert traffic.count(status=401) == 0, traffic.paths
    assert 3 <= traffic.count("/auth/refresh", 200) <= elapsed / (TOKEN_SECONDS * 0.5) + 2
    _shot(screen, "screen-display-after-expiries")

    # A reload keeps the display's session (no link in the URL any more).
    time.sleep(TOKEN_SECONDS + 1)
    screen.reload()
    playwright.expect(screen.locator("#status")).to_have_text("Live", timeout=10_000)
    playwright.expect(screen.locator("#board li")).to_have_count(len(codes))
    assert traffic.count(status=401) == 0, traffic.paths

    # Revoked by the organizer: the next refresh is refused, the link too, and the
    # screen says so instead of retrying.
    org = _fresh(org)
    org.client.delete(
        f"/api/events/{event_id}/displays/{link['display_id']}", headers=org.staff
    ).raise_for_status()
    playwright.expect(screen.locator("#login-error")).to_contain_text("revoked", timeout=15_000)
    playwright.expect(screen.locator("#login")).to_be_visible()
    settled = len(traffic.paths)
    time.sleep(2 * TOKEN_SECONDS)
    assert len(traffic.paths) - settled <= 2, traffic.paths[settled:]  # no storm
    _shot(screen, "screen-display-revoked")
    context.close()
