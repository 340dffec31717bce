"""The dashboard's alert-rules panel in a real browser (Playwright on Debian's Chromium)
against a real ``headwater serve``: a platform admin mutes a rule from its row, and
the change is the recorded event the API reads back."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright import sync_api as playwright

from headwater.testing._server import serve

pytestmark = pytest.mark.slow

ROOT_EMAIL, ROOT_PASSWORD = "root@alerts.example", "root-password-1"
ENV = {
    "HEADWATER_AUTO_MIGRATE": "true",
    "HEADWATER_RATE_LIMITS": "false",
    "HEADWATER_BOOTSTRAP_ADMIN_EMAIL": ROOT_EMAIL,
    "HEADWATER_BOOTSTRAP_ADMIN_PASSWORD": ROOT_PASSWORD,
    "HEADWATER_FAST_PASSWORD_HASHING": "true",
}


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[str, dict[str, str], httpx.Client]]:
    with (
        serve(f"sqlite:///{tmp_path / 'events.db'}", workdir=tmp_path, env=ENV) as server,
        httpx.Client(base_url=server.url, timeout=60) as http,
    ):
        login = http.post("/auth/login", json={"email": ROOT_EMAIL, "password": ROOT_PASSWORD})
        assert login.status_code == 200, login.text
        token = login.json()["data"]["access_token"]
        yield server.url, {"authorization": f"Bearer {token}"}, http


def test_a_rule_is_muted_and_unmuted_from_its_row(
    site: tuple[str, dict[str, str], httpx.Client], chromium: str
) -> None:
    url, root, http = site
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            page: Any = browser.new_page(viewport={"width": 1400, "height": 1000})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(f"{url}/admin")
            page.fill("input[name=email]", ROOT_EMAIL)
            page.fill("input[name=password]", ROOT_PASSWORD)
            page.click("#signin-form button[type=submit]")
            panel = page.locator("#panel-alert-rules")
            row = panel.locator("tr", has_text="dead_jobs")
            playwright.expect(row.locator("[data-action=mute]")).to_be_visible(timeout=15_000)
            row.locator("[data-action=mute]").click()
            playwright.expect(row.locator("[data-action=unmute]")).to_be_visible(timeout=10_000)
            assert row.locator("[data-action=mute]").count() == 0
            muted = _rule(http, root, "dead_jobs")
            row.locator("[data-action=unmute]").click()
            playwright.expect(row.locator("[data-action=mute]")).to_be_visible(timeout=10_000)
            unmuted = _rule(http, root, "dead_jobs")
            assert errors == []
        finally:
            browser.close()
    assert muted["muted"] is True
    assert unmuted["muted"] is False
    history = http.get("/admin/api/alerts/rules/history", headers=root).json()["data"]
    assert [h["type"] for h in history] == ["alert.rule.unmuted", "alert.rule.muted"]


def _rule(http: httpx.Client, headers: dict[str, str], name: str) -> dict[str, Any]:
    rules = http.get("/admin/api/alerts/rules", headers=headers).json()["data"]["rules"]
    found: dict[str, Any] = next(rule for rule in rules if rule["name"] == name)
    return found
