"""Seed 002's COMPUTED policy on FormEase's backoffice figures: served from the cache,
and a submission (through the service's bus) drops exactly the figures it changes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from apps.formease import queries
from apps.formease.commands import EditForm
from apps.formease.domain.forms import FormId
from apps.formease.domain.users import Plan, UserRole
from apps.formease.projections import PROJECTIONS
from apps.formease.service import FormEase
from headwater.cache import Cache
from headwater.domain import CommandContext
from headwater.eventstore import EventStore, create_event_store
from headwater.http import ListQuery
from headwater.projections import attach_inline

pytestmark = pytest.mark.anyio

TENANT = "t-cache"
FIELDS = {"name": {"type": "text", "label": "Name", "required": True, "order": 1}}


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[EventStore]:
    opened = await create_event_store(f"sqlite:///{tmp_path}/fe.db", migrate=True)
    await attach_inline(opened, PROJECTIONS)
    yield opened
    await opened.close()


async def _published(service: FormEase) -> tuple[str, str]:
    staff = CommandContext(actor="staff", tenant_id=TENANT)
    user = await service.register_user(staff, "a@x.example", "Ada", Plan.PREMIUM, UserRole.OWNER)
    form = await service.create_form(CommandContext(actor="staff", tenant_id=TENANT), user, "S")
    edit = EditForm(form_id=FormId(form), set_fields=FIELDS)
    await service.edit_form(CommandContext(actor="staff", tenant_id=TENANT), edit)
    await service.publish(CommandContext(actor="staff", tenant_id=TENANT), form)
    return user, form


async def test_form_metrics_are_cached_and_a_submission_invalidates_them(
    store: EventStore,
) -> None:
    cache = Cache()
    service = FormEase(store, "secret", cache=cache)
    _, form = await _published(service)
    today = datetime.now(UTC).date()

    async def submissions() -> int:
        figures = await queries.form_metrics(store, TENANT, today, today, cache=cache)
        return int(figures["totals"]["submissions"])

    assert await submissions() == 0
    hits = cache.stats.l1_hits
    assert await submissions() == 0
    assert cache.stats.l1_hits == hits + 1, "the second read was not served from the cache"

    token = (await service.open_form(TENANT, None, form))["token"]
    assert await submissions() == 0  # opening a session changes no daily figure...
    assert cache.stats.l1_hits == hits + 2  # ...so it left the cached one alone
    await service.submit(TENANT, None, token, {"name": "Ada"})
    assert await submissions() == 1


async def test_user_stats_are_cached_and_a_submission_invalidates_them(
    store: EventStore,
) -> None:
    cache = Cache()
    service = FormEase(store, "secret", cache=cache)
    user, form = await _published(service)

    async def counted() -> tuple[int, int | None]:
        rows, _, total = await queries.user_stats(
            store,
            TENANT,
            queries.UserFilters(),
            after=None,
            limit=10,
            query=ListQuery(queries.USER_SORTS, "created_at", "desc", True),
            cache=cache,
        )
        (row,) = [r for r in rows if r["user_id"] == user]
        return int(row["submissions"]), total.count if total is not None else None

    assert await counted() == (0, 1)
    hits = cache.stats.l1_hits
    assert await counted() == (0, 1)
    assert cache.stats.l1_hits == hits + 1
    token = (await service.open_form(TENANT, None, form))["token"]
    await service.submit(TENANT, None, token, {"name": "Ada"})
    assert await counted() == (1, 1)


async def test_without_a_cache_the_figures_are_read_straight_through(
    store: EventStore,
) -> None:
    service = FormEase(store, "secret")
    _, form = await _published(service)
    today = datetime.now(UTC).date()
    token = (await service.open_form(TENANT, None, form))["token"]
    await service.submit(TENANT, None, token, {"name": "Ada"})
    figures = await queries.form_metrics(store, TENANT, today, today)
    assert figures["totals"]["submissions"] == 1
