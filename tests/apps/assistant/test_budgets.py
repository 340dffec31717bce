"""Token budgets: charged exactly once per completed reply, refused with the reset time
when spent; and the per-user request limit on posting."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import pytest

from apps.assistant.budgets import BudgetExhausted, Budgets, reset_of
from apps.assistant.domain.replies import REPLY_COMPLETED
from apps.assistant.generator import ReplyJob
from apps.assistant.projections import PROJECTIONS
from apps.assistant.providers.local import BUILT_IN, DocumentIndex, LocalProvider
from apps.assistant.service import Assistant
from headwater import EventStore, create_event_store
from headwater.projections import attach_inline
from headwater.testing._server import serve
from tests.apps.assistant.conftest import (
    APPS,
    ENV,
    ROOT_EMAIL,
    ROOT_PASSWORD,
    Tenant,
    login,
    make_tenant,
)
from tests.apps.assistant.support import ask, data, wait_finished
from tests.apps.assistant.test_generator import TENANT, _job


def test_the_reset_is_the_next_utc_month() -> None:
    assert reset_of(datetime(2026, 12, 31, 23, 59, tzinfo=UTC)) == datetime(2027, 1, 1, tzinfo=UTC)
    assert reset_of(datetime(2026, 2, 1, tzinfo=UTC)) == datetime(2026, 3, 1, tzinfo=UTC)


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[EventStore]:
    async with await create_event_store(store_url, migrate=True) as opened:
        await attach_inline(opened, PROJECTIONS)
        yield opened


@pytest.mark.anyio
async def test_concurrent_replies_are_charged_exactly_what_they_used(store: EventStore) -> None:
    budgets = Budgets(user=10**9, tenant=10**9)
    service = Assistant(store, budgets)
    provider = LocalProvider(DocumentIndex(BUILT_IN), delay_ms=0)
    jobs = []
    for n in range(12):
        user = f"user-{n % 3}"
        thread_id = await service.create_thread(TENANT, user, "t")
        question = [{"role": "user", "content": f"budgets and replies {n} " * (n + 1)}]
        reply_id = await service.post(TENANT, user, thread_id, question)
        payload = {"reply_id": reply_id, "thread_id": thread_id, "user_id": user}
        # Two writers per reply, as after a lease lapse: still charged once.
        writer = ReplyJob(store, provider, coalesce_ms=0)
        jobs += [writer(_job(payload, attempt=1)), writer(_job(payload, attempt=2))]
    await asyncio.gather(*jobs)
    used: dict[str, int] = {}
    async for event in store.read_all(types=[REPLY_COMPLETED]):
        user = event.data["user_id"]
        used[user] = used.get(user, 0) + event.data["usage"]["total_tokens"]
    assert len(used) == 3
    month = datetime.now(UTC).strftime("%Y-%m")
    for user, tokens in used.items():
        charged = await budgets.usage(store, TENANT, user, month)
        assert charged["user"] == tokens
        assert charged["tenant"] == sum(used.values())


@pytest.mark.anyio
async def test_a_spent_budget_refuses_with_its_reset_time(store: EventStore) -> None:
    budgets = Budgets(user=10, tenant=10**9)
    service = Assistant(store, budgets)
    thread_id = await service.create_thread(TENANT, "u", "t")
    reply_id = await service.post(TENANT, "u", thread_id, [{"role": "user", "content": "budgets"}])
    provider = LocalProvider(DocumentIndex(BUILT_IN), delay_ms=0)
    payload = {"reply_id": reply_id, "thread_id": thread_id, "user_id": "u"}
    await ReplyJob(store, provider)(_job(payload, attempt=1))
    with pytest.raises(BudgetExhausted) as refused:
        await service.post(TENANT, "u", thread_id, [{"role": "user", "content": "more"}])
    details = refused.value.details
    assert details["scope"] == "user"
    assert details["used"] >= 10
    assert details["resets_at"] == reset_of(datetime.now(UTC)).isoformat()
    # Another user of the tenant is not held back by this one's budget.
    other = await service.create_thread(TENANT, "v", "t")
    await service.post(TENANT, "v", other, [{"role": "user", "content": "hi"}])


@dataclass
class Limited:
    http: httpx.Client
    tenant: Tenant
    admin: dict[str, str]


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Limited]:
    workdir = tmp_path_factory.mktemp("limited")
    env = {
        **ENV,
        "HEADWATER_RATE_LIMITS": "true",
        "HEADWATER_ASSISTANT_USER_BUDGET": "30",
    }
    url = f"sqlite:///{workdir / 'events.db'}"
    with (
        serve(url, workdir=workdir, apps=APPS, env=env) as server,
        httpx.Client(base_url=server.url, timeout=60) as http,
    ):
        root = login(http, ROOT_EMAIL, ROOT_PASSWORD)
        tenant = make_tenant(http, root, "Limited")
        # Signed in once here: the login limit is on in this server.
        acting = http.post("/auth/act-as", json={"tenant_id": tenant.tenant_id}, headers=root)
        admin = {"authorization": f"Bearer {data(acting)['access_token']}"}
        yield Limited(http, tenant, admin)


def test_a_spent_budget_answers_429_with_the_reset_time(
    limited: Limited,
) -> None:
    http, tenant = limited.http, limited.tenant
    _, reply_id = ask(http, tenant.alice, "What are token budgets?")
    reply = wait_finished(http, tenant.alice, reply_id)
    assert reply["usage"]["total_tokens"] >= 30
    budget = data(http.get("/assistant/budget", headers=tenant.alice))
    assert budget["user"] == {"used": reply["usage"]["total_tokens"], "budget": 30}
    refused = http.post(
        "/assistant/threads",
        json={"messages": [{"role": "user", "content": "again"}]},
        headers=tenant.alice,
    )
    assert refused.status_code == 429
    error = refused.json()["error"]
    assert error["code"] == "budget_exhausted"
    assert error["details"]["resets_at"] == budget["resets_at"]
    assert int(refused.headers["retry-after"]) > 0


def test_the_tenant_admin_sees_each_users_use(limited: Limited) -> None:
    http, tenant = limited.http, limited.tenant
    _, reply_id = ask(http, tenant.bob, "What are token budgets?")
    used = wait_finished(http, tenant.bob, reply_id)["usage"]["total_tokens"]
    admin = limited.admin
    rows = data(http.get("/assistant/admin/usage", headers=admin))
    assert (
        sum(r["tokens"] for r in rows)
        == data(http.get("/assistant/budget", headers=tenant.bob))["tenant"]["used"]
    )
    assert used in [r["tokens"] for r in rows]
    assert [r["tokens"] for r in rows] == sorted((r["tokens"] for r in rows), reverse=True)
    assert http.get("/assistant/admin/usage", headers=tenant.bob).status_code == 403
    overview = data(http.get("/admin/api/overview", headers=admin))
    assert "assistant-usage" in {panel["id"] for panel in overview["panels"]}


def test_posting_is_limited_per_user(limited: Limited) -> None:
    http, tenant = limited.http, limited.tenant
    codes = [
        http.post("/assistant/threads", json={"title": "t"}, headers=tenant.bob).status_code
        for _ in range(14)
    ]
    # A burst of 10 a user (one of which the test before may have spent), then 429.
    assert 429 in codes
    allowed = codes.index(429)
    assert 9 <= allowed <= 10
    assert set(codes[:allowed]) == {201}
    # Alice's counter is her own.
    assert (
        http.post("/assistant/threads", json={"title": "t"}, headers=tenant.alice).status_code
        == 201
    )
