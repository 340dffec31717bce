"""Events: create, edit, move through draft → published → live → closed, live counts."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from apps.qrevent.api.deps import IdempotencyKey, Services, Store, context, load_event
from apps.qrevent.caching import cached
from apps.qrevent.commands import ChangeEventStatus, CreateEvent, UpdateEvent
from apps.qrevent.domain.event import Status
from apps.qrevent.domain.ids import EventId
from apps.qrevent.projections.checkin import COUNTS, GATE_COUNTS
from apps.qrevent.projections.directory import EVENTS
from apps.qrevent.queries import EVENT_SORTS, one, page_rows, rows
from headwater.cache import COMPUTED, FREQUENT
from headwater.http import (
    AUTH_ERRORS,
    NOT_FOUND,
    AppRuntime,
    Envelope,
    ListQuery,
    Page,
    Staff,
    Total,
    list_query,
    ok,
    page,
)

router = APIRouter(prefix="/api/events", tags=["qrevent: events"], responses=AUTH_ERRORS)

Name = Annotated[str, Field(min_length=1, max_length=200)]
Gate = Annotated[str, Field(min_length=1, max_length=50, pattern=r"^[\w .-]+$")]


class EventIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    venue: Annotated[str, Field(max_length=200)] = ""
    starts_at: Annotated[str, Field(max_length=40)] = ""
    capacity: Annotated[int, Field(ge=0, le=1_000_000)] = 0
    gates: Annotated[list[Gate], Field(min_length=1, max_length=50)] = ["main"]
    undo_window_seconds: Annotated[int, Field(ge=0, le=86_400)] = 120


class EventPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    venue: Annotated[str, Field(max_length=200)] | None = None
    starts_at: Annotated[str, Field(max_length=40)] | None = None
    capacity: Annotated[int, Field(ge=0, le=1_000_000)] | None = None
    gates: Annotated[list[Gate], Field(min_length=1, max_length=50)] | None = None
    undo_window_seconds: Annotated[int, Field(ge=0, le=86_400)] | None = None


class StatusIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Status


class EventView(BaseModel):
    event_id: str
    name: str
    venue: str
    starts_at: str
    capacity: int
    gates: list[str]
    undo_window_seconds: int
    status: str

    @classmethod
    def of(cls, row: dict[str, Any]) -> EventView:
        return cls.model_validate({k: row[k] for k in cls.model_fields})


class GateCount(BaseModel):
    gate: str
    admitted: int
    exited: int


class CountsView(BaseModel):
    event_id: str
    checked_in: int
    inside: int
    alerts: int
    capacity: int
    gates: list[GateCount]


@router.post("", summary="Create an event", status_code=201, response_model=Envelope[EventView])
async def create_event(
    body: EventIn, staff: Staff, services: Services, store: Store, key: IdempotencyKey = None
) -> Envelope[EventView]:
    ctx = context(staff, key)
    # With a key, the id is derived from it, so a retried create makes one event.
    event_id = EventId(ctx.command_id) if key else EventId.new()
    await services.bus.send(CreateEvent(event_id=event_id, **body.model_dump()), ctx)
    return ok(EventView.of(await load_event(store, staff.require_tenant(), event_id.value)))


@router.get(
    "", summary="List the organizer's events (keyset pages)", response_model=Page[EventView]
)
async def list_events(
    staff: Staff,
    store: Store,
    runtime: AppRuntime,
    query: Annotated[ListQuery, Depends(list_query(EVENT_SORTS))],
    status: Status | None = None,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Page[EventView]:
    where: dict[str, Any] = {"tenant_id": staff.require_tenant()}
    if status is not None:
        where["status"] = status
    tenant = where["tenant_id"]

    async def compute() -> dict[str, Any]:
        items, next_cursor, total = await page_rows(
            store,
            runtime.cursors,
            EVENTS,
            scope="qe-events",
            query=query,
            where=where,
            cursor=cursor,
            limit=limit,
        )
        counted = None if total is None else [total.count, total.exact]
        return {"items": items, "cursor": next_cursor, "total": counted}

    # One entry per page asked for (filters, sort, cursor, size, total): all dropped
    # together by the events table's tag.
    key = f"qe:events:{status}:{query.sort}:{query.order}:{query.total}:{limit}:{cursor}"
    found = await cached(runtime.cache, tenant, key, compute, policy=FREQUENT, tables=[EVENTS])
    total = None if found["total"] is None else Total(*found["total"])
    return page(
        [EventView.of(r) for r in found["items"]],
        cursor=found["cursor"],
        limit=limit,
        total=total,
    )


@router.get(
    "/{event_id}", summary="One event", response_model=Envelope[EventView], responses=NOT_FOUND
)
async def get_event(
    event_id: str, staff: Staff, store: Store, runtime: AppRuntime
) -> Envelope[EventView]:
    tenant = staff.require_tenant()
    row = await cached(
        runtime.cache,
        tenant,
        f"qe:event:{event_id}",
        lambda: load_event(store, tenant, event_id),
        policy=FREQUENT,
        tables=[EVENTS],
    )
    return ok(EventView.of(row))


@router.patch(
    "/{event_id}",
    summary="Edit an event's details",
    response_model=Envelope[EventView],
    responses=NOT_FOUND,
)
async def update_event(
    event_id: str, body: EventPatch, staff: Staff, services: Services, store: Store
) -> Envelope[EventView]:
    tenant = staff.require_tenant()
    await load_event(store, tenant, event_id)
    changes = body.model_dump(exclude_none=True)
    await services.bus.send(
        UpdateEvent(event_id=EventId(event_id), changes=changes), context(staff)
    )
    return ok(EventView.of(await load_event(store, tenant, event_id)))


@router.post(
    "/{event_id}/status",
    summary="Move an event through its lifecycle (draft, live, finished)",
    response_model=Envelope[EventView],
    responses=NOT_FOUND,
)
async def change_status(
    event_id: str, body: StatusIn, staff: Staff, services: Services, store: Store
) -> Envelope[EventView]:
    tenant = staff.require_tenant()
    await load_event(store, tenant, event_id)
    command = ChangeEventStatus(event_id=EventId(event_id), status=body.status)
    await services.bus.send(command, context(staff))
    return ok(EventView.of(await load_event(store, tenant, event_id)))


@router.get(
    "/{event_id}/counts",
    summary="Live counts of an event: invited, inside, families, alerts",
    response_model=Envelope[CountsView],
    responses=NOT_FOUND,
)
async def counts(
    event_id: str, staff: Staff, store: Store, runtime: AppRuntime
) -> Envelope[CountsView]:
    tenant = staff.require_tenant()
    view = await cached(
        runtime.cache,
        tenant,
        f"qe:counts:{event_id}",
        lambda: _counts(store, tenant, event_id),
        policy=COMPUTED,
        tables=[COUNTS, GATE_COUNTS, EVENTS],
    )
    return ok(CountsView.model_validate(view))


async def _counts(store: Store, tenant: str, event_id: str) -> dict[str, Any]:
    """The dashboard's figures for one event (cached as plain JSON)."""
    event = await load_event(store, tenant, event_id)
    key = {"tenant_id": tenant, "event_id": event_id}
    total = await one(store, COUNTS, key) or {"checked_in": 0, "inside": 0, "alerts": 0}
    gates = {g: GateCount(gate=g, admitted=0, exited=0) for g in event["gates"]}
    for row in await rows(store, GATE_COUNTS, key, order="gate"):
        gates[row["gate"]] = GateCount(
            gate=row["gate"], admitted=row["admitted"], exited=row["exited"]
        )
    view = CountsView(
        event_id=event_id,
        checked_in=total["checked_in"],
        inside=total["inside"],
        alerts=total["alerts"],
        capacity=event["capacity"],
        gates=list(gates.values()),
    )
    return view.model_dump()
