"""The site builds offline in strict mode, and reads in a browser without a network.

The build is ``mkdocs build --strict`` (what ``make docs`` runs): a broken link, a
missing reference or a page left out of the nav fails it. The browser test serves the
built files from a local HTTP server, opens the tutorial's first page (the Concepts
page until the tutorial exists), refuses every request that leaves the machine, and
saves a screenshot to ``artifacts/docs/``.
"""

from __future__ import annotations

import functools
import http.server
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright import sync_api as playwright

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, f"mkdocs build --strict failed:\n{done.stderr[-6000:]}"
    return out


def test_the_site_builds_strict_with_every_section(site: Path) -> None:
    for page in (
        "index.html",
        "getting-started/index.html",
        "concepts/event-log/index.html",
        "how-to/deploy/index.html",
        "examples/qrevent/index.html",
        "reference/settings/index.html",
        "reference/api/headwater.http/index.html",
    ):
        assert (site / page).is_file(), page


def test_the_generated_pages_hold_the_code_s_facts(site: Path) -> None:
    settings = (site / "reference/settings/index.html").read_text("utf-8")
    assert "HEADWATER_DATABASE_URL" in settings
    assert "HEADWATER_RATE_LIMITS" in settings
    api = (site / "reference/api/headwater.eventstore/index.html").read_text("utf-8")
    assert 'id="headwater.eventstore.EventStore"' in api
    errors = (site / "reference/errors/index.html").read_text("utf-8")
    assert "rate_limited" in errors


@pytest.fixture
def server(site: Path) -> Iterator[str]:
    handler = functools.partial(_QuietHandler, directory=str(site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def test_the_site_reads_offline_in_a_browser(
    site: Path, server: str, chromium: str, request: pytest.FixtureRequest
) -> None:
    tutorial = site / "tutorial/index.html"
    path = "tutorial/" if tutorial.is_file() else "concepts/"
    outside: list[str] = []
    errors: list[str] = []
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1300, "height": 1000})

            def route(route: playwright.Route) -> None:
                if route.request.url.startswith(server):
                    route.continue_()
                else:
                    outside.append(route.request.url)
                    route.abort()

            page.route("**/*", route)
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(f"{server}/{path}")
            playwright.expect(page.locator("article h1")).to_be_visible(timeout=10_000)
            playwright.expect(page.locator("nav.md-nav--primary")).to_contain_text("Concepts")
            folder = Path(request.config.rootpath) / "artifacts" / "docs"
            folder.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(folder / "docs.png"), full_page=False)
            # The search index loads from the site itself.
            page.locator("input.md-search__input").fill("projection")
            results = page.locator(".md-search-result__item")
            playwright.expect(results.first).to_be_visible(timeout=10_000)
        finally:
            browser.close()
    assert outside == [], f"the site reached outside the machine: {outside}"
    assert errors == [], errors
