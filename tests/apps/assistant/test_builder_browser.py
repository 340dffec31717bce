"""The chat page's Builder panel in a real browser (Debian's Chromium): a build requested
while the page is open shows up and moves to completed without a reload."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright import sync_api as playwright

from headwater.testing._server import serve
from tests.apps.assistant.conftest import (
    APPS,
    ENV,
    PASSWORD,
    ROOT_EMAIL,
    ROOT_PASSWORD,
    login,
    make_tenant,
)
from tests.apps.assistant.test_builder import SPEC

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    workdir = tmp_path_factory.mktemp("builder-page")
    url = f"sqlite:///{workdir / 'events.db'}"
    with (
        serve(url, workdir=workdir, apps=APPS, env=ENV) as server,
        httpx.Client(base_url=server.url, timeout=60) as http,
    ):
        tenant = make_tenant(http, login(http, ROOT_EMAIL, ROOT_PASSWORD), "Page")
        yield server.url, tenant.alice


def test_the_builder_panel_follows_a_build_live(
    site: tuple[str, dict[str, str]], chromium: str, request: pytest.FixtureRequest
) -> None:
    base, alice = site
    folder = Path(request.config.rootpath) / "artifacts" / "assistant"
    folder.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 800})
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(f"{base}/assistant/chat")
            page.get_by_placeholder("Email").fill("alice@page.example")
            page.get_by_placeholder("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_selector("#builds-empty:not([hidden])")
            made = httpx.post(f"{base}/assistant/builds", json=SPEC, headers=alice, timeout=30)
            assert made.status_code == 201, made.text
            build_id = made.json()["data"]["build_id"]
            done = page.wait_for_selector(
                f'#builds li[data-build="{build_id}"][data-status="completed"]', timeout=30_000
            )
            assert done is not None
            assert "shop: completed" in done.inner_text()
            page.screenshot(path=str(folder / "builder-panel.png"))
        finally:
            browser.close()
    assert errors == []
