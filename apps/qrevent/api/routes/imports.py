"""CSV imports of guests: accepted at once, written in the background, progress to poll."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from apps.qrevent import importer
from apps.qrevent.api.deps import IdempotencyKey, Services, Store, context, load_event
from apps.qrevent.domain.guest_import import GuestImport, ImportId
from apps.qrevent.errors import NotInTenant
from apps.qrevent.projections.directory import FAMILIES
from apps.qrevent.queries import rows
from apps.qrevent.services import QrEventServices
from headwater.errors import Forbidden
from headwater.http import AUTH_ERRORS, NOT_FOUND, Envelope, Staff, ok

router = APIRouter(prefix="/api", tags=["qrevent: imports"], responses=AUTH_ERRORS)


class ImportIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: The file's text: a header (first_name, last_name, email, family), then rows.
    csv: Annotated[str, Field(min_length=1, max_length=1_000_000)]


class RowError(BaseModel):
    row: int
    errors: list[str]


class ImportView(BaseModel):
    import_id: str
    event_id: str
    status: str
    total: int
    accepted: int
    done: int
    errors: list[RowError]


def view(state: GuestImport) -> ImportView:
    return ImportView(
        import_id=state.id.value,
        event_id=state.event_id,
        status=state.status,
        total=state.total,
        accepted=len(state.rows),
        done=state.done,
        errors=[RowError.model_validate(e) for e in state.errors],
    )


async def load_import(services: QrEventServices, tenant: str, import_id: str) -> GuestImport:
    try:
        state = await services.repository.load(GuestImport, ImportId(import_id), tenant_id=tenant)
    except Forbidden:
        state = None
    if state is None or not state.exists:
        raise NotInTenant("no such import", import_id=import_id)
    return state


def _start_run(services: QrEventServices, tenant: str, actor: str, state: GuestImport) -> None:
    services.spawn(
        importer.run(services.bus, tenant, actor, state), name=f"import {state.id.value}"
    )


@router.post(
    "/events/{event_id}/imports",
    summary="Import guests from a CSV file (resumable)",
    status_code=202,
    response_model=Envelope[ImportView],
    responses=NOT_FOUND,
)
async def start_import(
    event_id: str,
    body: ImportIn,
    staff: Staff,
    services: Services,
    store: Store,
    key: IdempotencyKey = None,
) -> Envelope[ImportView]:
    """Every row is checked first: bad rows are reported, the good ones imported."""
    tenant = staff.require_tenant()
    await load_event(store, tenant, event_id)
    parsed = importer.parse(body.csv)
    ctx = context(staff, key)
    import_id = ImportId(ctx.command_id) if key else ImportId.new()
    if key:
        # A retried upload: the families it created exist now, so the command would
        # differ; the first import stands, as it was decided.
        prior = await services.repository.load(GuestImport, import_id, tenant_id=tenant)
        if prior.exists:
            return ok(view(prior))
    existing = {
        f["name"]: f["family_id"]
        for f in await rows(store, FAMILIES, {"tenant_id": tenant, "event_id": event_id})
    }
    wanted = {r["family"] for r in parsed.rows if r.get("family")}
    families = importer.family_ids(import_id.value, wanted, existing)
    command = importer.StartImport(
        import_id=import_id,
        event_id=event_id,
        total=parsed.total,
        rows=parsed.rows,
        families=families,
        new_families=sorted(n for n in wanted if n not in existing),
        errors=parsed.errors,
    )
    result = await services.bus.send(command, ctx)
    state = await load_import(services, tenant, import_id.value)
    if not result.replayed:
        _start_run(services, tenant, staff.subject, state)
    return ok(view(state))


@router.get(
    "/imports/{import_id}",
    summary="An import's progress and rejected rows",
    response_model=Envelope[ImportView],
    responses=NOT_FOUND,
)
async def get_import(import_id: str, staff: Staff, services: Services) -> Envelope[ImportView]:
    return ok(view(await load_import(services, staff.require_tenant(), import_id)))


@router.post(
    "/imports/{import_id}/resume",
    summary="Resume an interrupted import",
    response_model=Envelope[ImportView],
    responses=NOT_FOUND,
)
async def resume_import(import_id: str, staff: Staff, services: Services) -> Envelope[ImportView]:
    """Run an interrupted import again: rows already written are not written twice."""
    tenant = staff.require_tenant()
    state = await load_import(services, tenant, import_id)
    if state.status == "running":
        _start_run(services, tenant, staff.subject, state)
    return ok(view(state))
