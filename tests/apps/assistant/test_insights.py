"""The assistant on experiments and analytics, over a real node on each backend: its
own business events fill the ``assistant-threads`` funnel, and the system-prompt test
assigns each user once, stickily, and its variant shapes the user's replies."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
import pytest

from apps.assistant.insights import PROMPT_TEST, system_prompt_test
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

INSIGHTS = ["apps.assistant.insights:experiments", "apps.assistant.insights:analytics"]
#: Ports of this engineer's range, one per backend (the module's nodes run in turn).
PORTS = {"sqlite-file": 19150, "postgres": 19151}
#: Matches several documents, so a detailed answer cites more than one.
QUESTION = "How does a reply resume from the event store after a reconnect?"
T = TypeVar("T")


@dataclass
class Site:
    http: httpx.Client
    admin: dict[str, str]
    other_admin: dict[str, str]

    def user(self) -> dict[str, str]:
        email = f"u{uuid.uuid4().hex[:10]}@alpha.example"
        made = self.http.post(
            "/accounts",
            json={"email": email, "password": PASSWORD, "roles": ["user"]},
            headers=self.admin,
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
    workdir = tmp_path_factory.mktemp("assistant-insights")
    with (
        database(backend, workdir) as url,
        serve(url, workdir=workdir, apps=[*APPS, *INSIGHTS], env=ENV, port=PORTS[backend]) as node,
        httpx.Client(base_url=node.url, timeout=60) as http,
    ):
        root = login(http, ROOT_EMAIL, ROOT_PASSWORD)
        yield Site(http, _tenant_admin(http, root, "Alpha"), _tenant_admin(http, root, "Beta"))


def eventually(check: Callable[[], T], timeout: float = 20) -> T:
    """The analytics projection runs behind the log: poll until it has caught up."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return check()
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_threads_messages_and_completed_replies_fill_the_thread_funnel(site: Site) -> None:
    http = site.http
    before = data(http.get("/analytics/funnels/assistant-threads?days=2", headers=site.admin))
    counts = [s["count"] for s in before["steps"]]
    # Two users ask and get whole answers; a third opens a thread and never asks.
    for _ in range(2):
        user = site.user()
        for question in ("What is an event store?", "How do projections rebuild?"):
            _, reply_id = ask(http, user, question)
            assert wait_finished(http, user, reply_id)["status"] == "completed"
    idle = site.user()
    data(http.post("/assistant/threads", json={"title": "Later"}, headers=idle), 201)
    expected = [counts[0] + 3, counts[1] + 2, counts[2] + 2]

    def funnel() -> dict[str, Any]:
        found: dict[str, Any] = data(
            http.get("/analytics/funnels/assistant-threads?days=2", headers=site.admin)
        )
        assert [s["count"] for s in found["steps"]] == expected
        return found

    steps = eventually(funnel)["steps"]
    assert [s["event"] for s in steps] == ["thread created", "message posted", "reply completed"]
    # The other tenant's funnel holds none of it.
    other = data(http.get("/analytics/funnels/assistant-threads?days=2", headers=site.other_admin))
    assert [s["count"] for s in other["steps"]] == [0, 0, 0]


def test_the_system_prompt_test_assigns_once_and_shapes_each_users_replies(site: Site) -> None:
    http = site.http
    spec = system_prompt_test().model_dump(mode="json")
    data(http.put(f"/experiments/{PROMPT_TEST}", json=spec, headers=site.admin))
    data(http.post(f"/experiments/{PROMPT_TEST}/start", headers=site.admin))
    exposed = {"concise": 0, "detailed": 0}
    completed = {"concise": 0, "detailed": 0}
    for _ in range(8):
        user = site.user()
        me = data(http.get("/auth/me", headers=user))
        citations = []
        for _ in range(2):
            _, reply_id = ask(http, user, QUESTION)
            reply = wait_finished(http, user, reply_id)
            assert reply["status"] == "completed"
            citations.append(len(reply["citations"]))
        # The reply job exposed the user at the first reply; asking again is sticky.
        body = {"subject": me["subject"]}
        again = data(http.post(f"/experiments/{PROMPT_TEST}/assignments", json=body, headers=user))
        assert not again["first_exposure"]
        variant = again["variant"]
        exposed[variant] += 1
        completed[variant] += 1
        # The variant applied: a concise prompt cites the best passage, a detailed one more.
        if variant == "concise":
            assert citations == [1, 1]
        else:
            assert citations[0] == citations[1] > 1
    results = data(http.get(f"/experiments/{PROMPT_TEST}/results", headers=site.admin))
    # One exposure per user, though each asked twice and was looked up once more.
    assert results["exposures"] == exposed
    variants = results["metrics"]["reply-completed"]["variants"]
    assert {v: variants[v]["conversions"] for v in variants} == completed
