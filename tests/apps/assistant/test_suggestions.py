"""Suggested prompts over the API on each backend: what users asked (the assistant's
own messages, normalised) feeds the item-item recommender; a user is offered what
users who asked the same things also asked, a new user the most asked prompts."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from apps.assistant.suggestions import normalise
from headwater.testing._server import serve
from tests.apps.assistant.conftest import (
    APPS,
    ENV,
    PASSWORD,
    ROOT_EMAIL,
    ROOT_PASSWORD,
    bearer,
    database,
    login,
)
from tests.apps.assistant.support import ask, data, wait_finished

PORTS = {"sqlite-file": 19160, "postgres": 19161}


@dataclass
class Site:
    http: httpx.Client
    admin: dict[str, str]
    other_admin: dict[str, str]

    def user(self, admin: dict[str, str] | None = None) -> dict[str, str]:
        email = f"u{uuid.uuid4().hex[:10]}@example.org"
        made = self.http.post(
            "/accounts",
            json={"email": email, "password": PASSWORD, "roles": ["user"]},
            headers=admin or self.admin,
        )
        assert made.status_code == 201, made.text
        return login(self.http, email)


def _tenant_admin(http: httpx.Client, root: dict[str, str], name: str) -> dict[str, str]:
    tenant_id = data(http.post("/admin/tenants", json={"name": name}, headers=root), 201)["id"]
    acting = http.post("/auth/act-as", json={"tenant_id": tenant_id}, headers=root)
    return bearer(data(acting)["access_token"])


@pytest.fixture(scope="module", params=list(PORTS))
def site(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    backend = str(request.param)
    workdir = tmp_path_factory.mktemp("assistant-suggestions")
    apps = [*APPS, "apps.assistant.suggestions:suggestions"]
    with (
        database(backend, workdir) as url,
        serve(url, workdir=workdir, apps=apps, env=ENV, port=PORTS[backend]) as node,
        httpx.Client(base_url=node.url, timeout=60) as http,
    ):
        root = login(http, ROOT_EMAIL, ROOT_PASSWORD)
        yield Site(http, _tenant_admin(http, root, "Alpha"), _tenant_admin(http, root, "Beta"))


def _asks(site: Site, user: dict[str, str], *questions: str) -> None:
    for question in questions:
        _, reply_id = ask(site.http, user, question)
        wait_finished(site.http, user, reply_id)


def _suggested(site: Site, user: dict[str, str], expect: Any, timeout: float = 20) -> Any:
    """Poll until the model (a projection behind the log) answers ``expect(found)``."""
    deadline = time.monotonic() + timeout
    while True:
        found = data(site.http.get("/assistant/suggestions", headers=user))
        if expect(found) or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def test_normalise_folds_case_and_spacing() -> None:
    assert normalise("  What IS an\n event   store? ") == "what is an event store?"


def test_users_are_offered_what_similar_users_asked_and_new_users_the_popular(
    site: Site,
) -> None:
    projections, budgets, store = (
        "How do projections rebuild?",
        "How are token budgets kept?",
        "What is an event store?",
    )
    for _ in range(3):
        _asks(site, site.user(), projections, budgets)
    # Asked in other case and spacing: the same prompt.
    _asks(site, site.user(), store, "how do  PROJECTIONS rebuild?")
    ann = site.user()
    _asks(site, ann, projections)

    def offers_budgets(found: Any) -> bool:
        return bool(found["prompts"]) and found["prompts"][0]["prompt"] == budgets

    found = _suggested(site, ann, offers_budgets)
    assert found["model"] == "item_item", found
    prompts = [p["prompt"] for p in found["prompts"]]
    # Ann's own question is never offered back; the most co-asked comes first.
    assert prompts[0] == budgets, found
    assert projections not in prompts
    assert "asked with" in found["prompts"][0]["reason"]
    # A prompt only one user asked is never offered to anyone else (it may say something
    # about that user); two prompts three or more users asked are.
    assert store not in prompts
    # A new user of the tenant gets the most asked prompts, projections first (5 askers).
    new = site.user()
    cold = _suggested(site, new, lambda f: bool(f["prompts"]))
    assert cold["model"] == "popularity", cold
    assert cold["prompts"][0]["prompt"] == projections
    assert [p["prompt"] for p in cold["prompts"]] == [projections, budgets], cold
    # Another tenant's users see none of this tenant's prompts.
    other = site.user(site.other_admin)
    assert data(site.http.get("/assistant/suggestions", headers=other))["prompts"] == []


def test_bad_k_is_a_422_and_no_token_a_401(site: Site) -> None:
    user = site.user()
    bad = site.http.get("/assistant/suggestions?k=0", headers=user)
    assert bad.status_code == 422, bad.text
    assert site.http.get("/assistant/suggestions").status_code == 401
