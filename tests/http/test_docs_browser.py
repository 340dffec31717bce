"""``/docs`` in a real browser (Playwright on Debian's Chromium) against a real
``headwater serve``, with every request off this node refused: the vendored Swagger UI
renders the operations under the server's own CSP, with no console error. A screenshot
is saved under ``artifacts/docs/``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright import sync_api as playwright

from headwater.testing._server import serve

pytestmark = pytest.mark.slow

APPS = ["apps.formease.module:module", "apps.qrevent.module:module"]
ENV = {"HEADWATER_AUTO_MIGRATE": "true", "HEADWATER_FAST_PASSWORD_HASHING": "true"}


def test_docs_render_the_operations_offline_under_the_csp(
    chromium: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = f"sqlite:///{tmp_path / 'events.db'}"
    with serve(url, workdir=tmp_path, apps=APPS, env=ENV) as server:
        csp = httpx.get(f"{server.url}/docs").headers["content-security-policy"]
        assert "script-src 'self'" in csp
        assert "unsafe-inline" not in csp
        errors: list[str] = []
        elsewhere: list[str] = []

        def only_this_node(route: Any) -> None:
            # The machines Headwater runs on may have no internet: refuse it outright.
            if route.request.url.startswith(server.url):
                route.continue_()
            else:
                elsewhere.append(route.request.url)
                route.abort("internetdisconnected")

        with playwright.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
            try:
                context = browser.new_context(viewport={"width": 1280, "height": 900})
                context.route("**/*", only_this_node)
                page = context.new_page()
                page.on("pageerror", lambda exc: errors.append(str(exc)))
                page.on(
                    "console",
                    lambda msg: errors.append(msg.text) if msg.type == "error" else None,
                )
                page.goto(f"{server.url}/docs")
                operations = page.locator(".opblock")
                operations.first.wait_for(timeout=30_000)
                page.get_by_text("/healthz", exact=True).first.wait_for()
                # Swagger UI renders the operations near the viewport: scroll through the
                # page, as a reader does, and collect every operation that appears.
                wanted = {"/formease/forms/{form_id}", "/api/events/{event_id}"}
                seen: set[str] = set()
                for _ in range(200):
                    paths = page.locator(".opblock-summary-path").evaluate_all(
                        "nodes => nodes.map(n => n.dataset.path)"
                    )
                    seen.update(paths)
                    if wanted <= seen and len(seen) > 20:
                        break
                    page.mouse.wheel(0, 600)
                    page.wait_for_timeout(100)
                assert len(seen) > 20, sorted(seen)
                assert wanted <= seen, sorted(seen)
                folder = Path(request.config.rootpath) / "artifacts" / "docs"
                folder.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(folder / "docs.png"))
            finally:
                browser.close()
    assert errors == [], errors
    assert elsewhere == [], elsewhere


def test_fastapis_cdn_pages_are_not_served(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'events.db'}"
    with serve(url, workdir=tmp_path, env=ENV) as server:
        assert httpx.get(f"{server.url}/redoc").status_code == 404
        page = httpx.get(f"{server.url}/docs")
        assert page.status_code == 200
        assert "cdn." not in page.text
        assert "<script>" not in page.text
