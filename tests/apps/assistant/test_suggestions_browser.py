"""The chat page's suggested prompts in Chromium: a user new to the tenant sees what
others asked most as chips; clicking one asks it, and the reply streams as usual.
The screenshot goes to ``artifacts/assistant/``."""

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
    bearer,
    login,
    make_tenant,
)
from tests.apps.assistant.support import ask, wait_finished

pytestmark = pytest.mark.slow
POPULAR = "How do projections rebuild?"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    workdir = tmp_path_factory.mktemp("chips")
    url = f"sqlite:///{workdir / 'events.db'}"
    apps = [*APPS, "apps.assistant.suggestions:suggestions"]
    with (
        serve(url, workdir=workdir, apps=apps, env=ENV, port=19170) as server,
        httpx.Client(base_url=server.url, timeout=60) as http,
    ):
        root = login(http, ROOT_EMAIL, ROOT_PASSWORD)
        tenant = make_tenant(http, root, "Chips")
        # Bob and two colleagues ask (a prompt is offered once three users asked it);
        # Alice, who has asked nothing, is offered their question.
        acting = http.post("/auth/act-as", json={"tenant_id": tenant.tenant_id}, headers=root)
        as_admin = bearer(acting.json()["data"]["access_token"])
        askers = [tenant.bob]
        for n in range(2):
            email = f"colleague{n}@chips.example"
            made = http.post(
                "/accounts",
                json={"email": email, "password": PASSWORD, "roles": ["user"]},
                headers=as_admin,
            )
            assert made.status_code == 201, made.text
            askers.append(login(http, email))
        for asker in askers:
            _, reply_id = ask(http, asker, POPULAR)
            wait_finished(http, asker, reply_id)
        yield server.url


def test_a_suggested_prompt_is_a_chip_that_asks_it(
    site: str, chromium: str, request: pytest.FixtureRequest
) -> None:
    folder = Path(request.config.rootpath) / "artifacts" / "assistant"
    folder.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 800})
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(f"{site}/assistant/chat")
            page.get_by_placeholder("Email").fill("alice@chips.example")
            page.get_by_placeholder("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            chip = page.locator("#suggestions button.chip", has_text=POPULAR)
            # The model is a projection behind the log: reload until it has the prompt.
            for _ in range(50):
                if chip.count():
                    break
                page.wait_for_timeout(200)
                page.reload()
            chip.wait_for(timeout=5_000)
            page.screenshot(path=str(folder / "suggestions.png"), full_page=True)
            chip.click()
            page.wait_for_function(
                "() => document.querySelector('li.assistant')?.dataset.status === 'completed'",
                timeout=60_000,
            )
            assert page.locator("li.user").first.inner_text().strip() == POPULAR
            # Asked now: it is no longer suggested to her (once the model has her question).
            for _ in range(50):
                page.reload()
                page.wait_for_function(
                    "() => document.getElementById('suggestions').dataset.loaded"
                )
                if chip.count() == 0:
                    break
                page.wait_for_timeout(200)
            assert chip.count() == 0
        finally:
            browser.close()
    assert errors == []
