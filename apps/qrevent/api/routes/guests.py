"""Guests of an event: register, edit, list with search and filters."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from apps.qrevent.api.deps import IdempotencyKey, Services, Store, context, load_event
from apps.qrevent.commands import RegisterGuest, UpdateGuest
from apps.qrevent.domain.ids import GuestId
from apps.qrevent.errors import NotInTenant
from apps.qrevent.projections.directory import FAMILIES, GUESTS
from apps.qrevent.queries import GUEST_SORTS, one, page_rows
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

router = APIRouter(prefix="/api", tags=["qrevent: guests"], responses=AUTH_ERRORS)

Name = Annotated[str, Field(min_length=1, max_length=100)]


class GuestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    first_name: Name
    last_name: Name
    email: Annotated[str, Field(max_length=254)] | None = None
    family_id: Annotated[str, Field(max_length=100)] | None = None


class GuestPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    first_name: Name | None = None
    last_name: Name | None = None
    email: Annotated[str, Field(max_length=254)] | None = None
    family_id: Annotated[str, Field(max_length=100)] | None = None


class GuestView(BaseModel):
    guest_id: str
    event_id: str
    first_name: str
    last_name: str
    email: str | None
    family_id: str | None
    invitation_id: str | None

    @classmethod
    def of(cls, row: dict[str, Any]) -> GuestView:
        return cls.model_validate({k: row[k] for k in cls.model_fields})


async def check_family(store: Store, tenant: str, event_id: str, family_id: str | None) -> None:
    if family_id is None:
        return
    family = await one(store, FAMILIES, {"family_id": family_id, "tenant_id": tenant})
    if family is None or family["event_id"] != event_id:
        raise NotInTenant("no such family in this event", family_id=family_id)


async def load_guest(store: Store, tenant: str, guest_id: str) -> dict[str, Any]:
    guest = await one(store, GUESTS, {"guest_id": guest_id, "tenant_id": tenant})
    if guest is None:
        raise NotInTenant("no such guest", guest_id=guest_id)
    return guest


@router.post(
    "/events/{event_id}/guests",
    summary="Register a guest for an event",
    status_code=201,
    response_model=Envelope[GuestView],
    responses=NOT_FOUND,
)
async def register_guest(
    event_id: str,
    body: GuestIn,
    staff: Staff,
    services: Services,
    store: Store,
    key: IdempotencyKey = None,
) -> Envelope[GuestView]:
    tenant = staff.require_tenant()
    await load_event(store, tenant, event_id)
    await check_family(store, tenant, event_id, body.family_id)
    ctx = context(staff, key)
    guest_id = GuestId(ctx.command_id) if key else GuestId.new()
    await services.bus.send(
        RegisterGuest(guest_id=guest_id, event_id=event_id, **body.model_dump()), ctx
    )
    return ok(GuestView.of(await load_guest(store, tenant, guest_id.value)))


@router.get(
    "/events/{event_id}/guests",
    summary="List an event's guests",
    response_model=Page[GuestView],
    responses=NOT_FOUND,
)
async def list_guests(
    event_id: str,
    staff: Staff,
    store: Store,
    runtime: AppRuntime,
    query: Annotated[ListQuery, Depends(list_query(GUEST_SORTS))],
    q: Annotated[str | None, Query(max_length=100)] = None,
    family_id: Annotated[str | None, Query(max_length=100)] = None,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Page[GuestView]:
    tenant = staff.require_tenant()
    await load_event(store, tenant, event_id)
    where: dict[str, Any] = {"tenant_id": tenant, "event_id": event_id}
    if family_id is not None:
        where["family_id"] = family_id
    search = (["first_name", "last_name", "email"], q) if q else None
    items, next_cursor, total = await page_rows(
        store,
        runtime.cursors,
        GUESTS,
        scope=f"qe-guests:{event_id}:{q}:{family_id}",
        query=query,
        where=where,
        cursor=cursor,
        limit=limit,
        search=search,
    )
    return page([GuestView.of(r) for r in items], cursor=next_cursor, limit=limit, total=total)


@router.get(
    "/guests/{guest_id}",
    summary="One guest",
    response_model=Envelope[GuestView],
    responses=NOT_FOUND,
)
async def get_guest(guest_id: str, staff: Staff, store: Store) -> Envelope[GuestView]:
    return ok(GuestView.of(await load_guest(store, staff.require_tenant(), guest_id)))


@router.patch(
    "/guests/{guest_id}",
    summary="Edit a guest",
    response_model=Envelope[GuestView],
    responses=NOT_FOUND,
)
async def update_guest(
    guest_id: str, body: GuestPatch, staff: Staff, services: Services, store: Store
) -> Envelope[GuestView]:
    tenant = staff.require_tenant()
    guest = await load_guest(store, tenant, guest_id)
    await check_family(store, tenant, guest["event_id"], body.family_id)
    changes = body.model_dump(exclude_unset=True)
    await services.bus.send(
        UpdateGuest(guest_id=GuestId(guest_id), changes=changes), context(staff)
    )
    return ok(GuestView.of(await load_guest(store, tenant, guest_id)))
