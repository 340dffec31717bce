"""Families: a name and the guests who come together (and can be checked in together)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from apps.qrevent.api.deps import IdempotencyKey, Services, Store, context, load_event
from apps.qrevent.api.routes.guests import GuestView
from apps.qrevent.commands import CreateFamily, RenameFamily
from apps.qrevent.domain.ids import FamilyId
from apps.qrevent.errors import NotInTenant
from apps.qrevent.projections.directory import FAMILIES, GUESTS
from apps.qrevent.queries import FAMILY_SORTS, one, page_rows, rows
from headwater.http import (
    AUTH_ERRORS,
    NOT_FOUND,
    AppRuntime,
    Envelope,
    ListQuery,
    Page,
    Staff,
    list_query,
    ok,
    page,
)

router = APIRouter(prefix="/api", tags=["qrevent: families"], responses=AUTH_ERRORS)

Name = Annotated[str, Field(min_length=1, max_length=200)]


class FamilyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name


class FamilyView(BaseModel):
    family_id: str
    event_id: str
    name: str
    members: list[GuestView] = []


async def load_family(store: Store, tenant: str, family_id: str) -> dict[str, Any]:
    family = await one(store, FAMILIES, {"family_id": family_id, "tenant_id": tenant})
    if family is None:
        raise NotInTenant("no such family", family_id=family_id)
    return family


async def family_view(store: Store, tenant: str, family_id: str) -> FamilyView:
    family = await load_family(store, tenant, family_id)
    members = await rows(store, GUESTS, {"tenant_id": tenant, "family_id": family_id})
    return FamilyView(
        family_id=family_id,
        event_id=family["event_id"],
        name=family["name"],
        members=[GuestView.of(m) for m in members],
    )


@router.post(
    "/events/{event_id}/families",
    summary="Create a family (a party admitted on one invitation)",
    status_code=201,
    response_model=Envelope[FamilyView],
    responses=NOT_FOUND,
)
async def create_family(
    event_id: str,
    body: FamilyIn,
    staff: Staff,
    services: Services,
    store: Store,
    key: IdempotencyKey = None,
) -> Envelope[FamilyView]:
    tenant = staff.require_tenant()
    await load_event(store, tenant, event_id)
    ctx = context(staff, key)
    family_id = FamilyId(ctx.command_id) if key else FamilyId.new()
    await services.bus.send(
        CreateFamily(family_id=family_id, event_id=event_id, name=body.name), ctx
    )
    return ok(await family_view(store, tenant, family_id.value))


@router.get(
    "/events/{event_id}/families",
    summary="List an event's families",
    response_model=Page[FamilyView],
    responses=NOT_FOUND,
)
async def list_families(
    event_id: str,
    staff: Staff,
    store: Store,
    runtime: AppRuntime,
    query: Annotated[ListQuery, Depends(list_query(FAMILY_SORTS))],
    q: Annotated[str | None, Query(max_length=100)] = None,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Page[FamilyView]:
    tenant = staff.require_tenant()
    await load_event(store, tenant, event_id)
    items, next_cursor, total = await page_rows(
        store,
        runtime.cursors,
        FAMILIES,
        scope=f"qe-families:{event_id}:{q}",
        query=query,
        where={"tenant_id": tenant, "event_id": event_id},
        cursor=cursor,
        limit=limit,
        search=(["name"], q) if q else None,
    )
    views = [
        FamilyView(family_id=r["family_id"], event_id=r["event_id"], name=r["name"]) for r in items
    ]
    return page(views, cursor=next_cursor, limit=limit, total=total)


@router.get(
    "/families/{family_id}",
    summary="One family and its members",
    response_model=Envelope[FamilyView],
    responses=NOT_FOUND,
)
async def get_family(family_id: str, staff: Staff, store: Store) -> Envelope[FamilyView]:
    return ok(await family_view(store, staff.require_tenant(), family_id))


@router.patch(
    "/families/{family_id}",
    summary="Rename a family",
    response_model=Envelope[FamilyView],
    responses=NOT_FOUND,
)
async def rename_family(
    family_id: str, body: FamilyIn, staff: Staff, services: Services, store: Store
) -> Envelope[FamilyView]:
    tenant = staff.require_tenant()
    await load_family(store, tenant, family_id)
    command = RenameFamily(family_id=FamilyId(family_id), name=body.name)
    await services.bus.send(command, context(staff))
    return ok(await family_view(store, tenant, family_id))
