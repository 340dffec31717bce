"""The chat page in a real browser (Playwright on Debian's Chromium): sign in, ask, reload
while the reply is being written; the reply goes on from where it was and ends whole,
with no piece shown twice. Screenshots go to ``artifacts/assistant/``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright import sync_api as playwright

from apps.assistant.providers.local import DocumentIndex, compose
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

pytestmark = pytest.mark.slow
QUESTION = "How do I resume a stream after a reconnect?"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    workdir = tmp_path_factory.mktemp("chat")
    url = f"sqlite:///{workdir / 'events.db'}"
    # A reading pace: the reply takes seconds, so the reload lands in its middle.
    env = {**ENV, "HEADWATER_ASSISTANT_LOCAL_DELAY_MS": "40"}
    with (
        serve(url, workdir=workdir, apps=APPS, env=env) as server,
        httpx.Client(base_url=server.url, timeout=60) as http,
    ):
        make_tenant(http, login(http, ROOT_EMAIL, ROOT_PASSWORD), "Chat")
        yield server.url


def test_a_reload_mid_reply_continues_where_it_was(
    site: str, chromium: str, request: pytest.FixtureRequest
) -> None:
    expected = compose(QUESTION, DocumentIndex.of_docs().search(QUESTION))[0]
    folder = Path(request.config.rootpath) / "artifacts" / "assistant"
    folder.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 800})
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(f"{site}/assistant/chat")
            page.get_by_placeholder("Email").fill("alice@chat.example")
            page.get_by_placeholder("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            page.get_by_placeholder("Ask about Headwater…").fill(QUESTION)
            page.get_by_role("button", name="Send").click()
            reply = page.locator("li.assistant[data-reply]")
            page.wait_for_function(
                "() => Number(document.querySelector('li.assistant')?.dataset.seq || 0) >= 4"
            )
            before = reply.inner_text()
            seq_before = int(reply.get_attribute("data-seq") or 0)
            assert reply.get_attribute("data-status") == "streaming"
            page.screenshot(path=str(folder / "streaming.png"), full_page=True)
            page.reload()
            # After the reload: the thread (from the URL) and the reply so far, from the log.
            page.wait_for_function(
                "() => document.querySelector('li.assistant')?.dataset.status === 'completed'",
                timeout=60_000,
            )
            after = page.locator("li.assistant[data-reply]")
            text = after.inner_text()
            assert int(after.get_attribute("data-seq") or 0) > seq_before
            assert text.startswith(before.strip())
            assert text == expected.strip()
            assert page.locator("li.user").inner_text() == QUESTION
            page.screenshot(path=str(folder / "completed.png"), full_page=True)
        finally:
            browser.close()
    assert errors == [], errors
