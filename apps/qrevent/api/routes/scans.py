"""The door: scans (online and offline batches), undo, alerts.

A scan's ``scan_id`` is chosen by the scanner and names the command: sending it
again, by retry or by re-uploading an offline batch, returns the first decision and
writes nothing. Every scan that names a real invitation is recorded on it, refused
ones with their reason, so the invitation's audit trail is complete.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from apps.qrevent.api.deps import Services, Store, context, load_event
from apps.qrevent.api.routes.invitations import ScanView
from apps.qrevent.commands import Scan, UndoScan
from apps.qrevent.domain.ids import InvitationId
from apps.qrevent.domain.invitation import Direction, ScanResult
from apps.qrevent.errors import NotInTenant, UnknownGate
from apps.qrevent.projections.checkin import SCANS
from apps.qrevent.projections.directory import INVITATIONS
from apps.qrevent.queries import one
from apps.qrevent.services import QrEventServices
from headwater.domain import idempotency
from headwater.eventstore import EventStore
from headwater.http.deps import AUTH_ERRORS, NOT_FOUND, Staff
from headwater.http.responses import Envelope, ok
from headwater.security.principal import Principal

router = APIRouter(
    prefix="/api/events/{event_id}", tags=["qrevent: check-in"], responses=AUTH_ERRORS
)

Token = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[\w:.-]+$")]


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise ValueError("scanned_at needs a timezone (e.g. 2026-06-01T18:00:00Z)")
    return value


class ScanIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scan_id: Token
    code: Annotated[str, Field(min_length=1, max_length=512)]
    gate: Annotated[str, Field(min_length=1, max_length=50)]
    device: Token | None = None
    direction: Direction = "in"
    #: When the scanner read the code; offline scans send their real time.
    scanned_at: Annotated[datetime | None, AfterValidator(_aware)] = None
    #: Check in only these members of a family invitation (default: all of them).
    guest_ids: Annotated[list[Token], Field(min_length=1, max_length=50)] | None = None


class BatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scans: Annotated[list[ScanIn], Field(min_length=1, max_length=500)]


class UndoView(BaseModel):
    scan_id: str
    status: str


async def decide(
    services: QrEventServices,
    store: EventStore,
    staff: Principal,
    event: dict[str, Any],
    body: ScanIn,
) -> ScanResult:
    tenant = staff.require_tenant()
    event_id = event["event_id"]
    if body.gate not in event["gates"]:
        raise UnknownGate(f"unknown gate {body.gate!r}", gates=event["gates"])
    ctx = context(staff, f"scan:{body.scan_id}")
    prior = await store.read_event(idempotency.event_id(ctx, 0))
    if prior is not None and prior.tenant_id == tenant:
        # The first decision stands, even if the event has closed since.
        return ScanResult.model_validate(prior.metadata[idempotency.RESULT])
    verified = services.signer.verify(tenant, body.code)
    unrecorded = ScanResult(
        scan_id=body.scan_id, invitation_id=verified.invitation_id or "", decision="refused"
    )
    if verified.invitation_id is None:
        return unrecorded.model_copy(update={"reason": verified.refusal})
    invitation = await one(
        store, INVITATIONS, {"invitation_id": verified.invitation_id, "tenant_id": tenant}
    )
    if invitation is None:
        # Nothing of this organizer's to record it on (e.g. another organizer's code).
        return unrecorded.model_copy(update={"reason": verified.refusal or "unknown_invitation"})
    refusal = verified.refusal
    if refusal is None and verified.event_id != event_id:
        refusal = "wrong_event"
    if refusal is None and event["status"] != "live":
        refusal = "event_not_live"
    command = Scan(
        invitation_id=InvitationId(verified.invitation_id),
        scan_id=body.scan_id,
        event_id=event_id,
        direction=body.direction,
        gate=body.gate,
        device=body.device or staff.subject,
        scanned_at=None if body.scanned_at is None else body.scanned_at.isoformat(),
        guest_ids=body.guest_ids,
        refusal=refusal,
    )
    return (await services.bus.send(command, ctx)).value


@router.post("/scans", response_model=Envelope[ScanResult], responses=NOT_FOUND)
async def scan(
    event_id: str, body: ScanIn, staff: Staff, services: Services, store: Store
) -> Envelope[ScanResult]:
    event = await load_event(store, staff.require_tenant(), event_id)
    return ok(await decide(services, store, staff, event, body))


@router.post("/scans/batch", response_model=Envelope[list[ScanResult]], responses=NOT_FOUND)
async def scan_batch(
    event_id: str, body: BatchIn, staff: Staff, services: Services, store: Store
) -> Envelope[list[ScanResult]]:
    """An offline scanner's upload. Applied in scan-time order (then scan id), so the
    same batch always yields the same decisions; results come back in the sent order."""
    event = await load_event(store, staff.require_tenant(), event_id)
    for item in body.scans:  # refuse the whole upload before writing any of it
        if item.gate not in event["gates"]:
            raise UnknownGate(f"unknown gate {item.gate!r}", gates=event["gates"])
    order = sorted(
        range(len(body.scans)),
        key=lambda i: (_scan_time(body.scans[i]), body.scans[i].scan_id),
    )
    results: dict[int, ScanResult] = {}
    for index in order:
        results[index] = await decide(services, store, staff, event, body.scans[index])
    return ok([results[i] for i in range(len(body.scans))])


@router.post("/scans/{scan_id}/undo", response_model=Envelope[UndoView], responses=NOT_FOUND)
async def undo_scan(
    event_id: str, scan_id: str, staff: Staff, services: Services, store: Store
) -> Envelope[UndoView]:
    tenant = staff.require_tenant()
    event = await load_event(store, tenant, event_id)
    row = await one(store, SCANS, {"tenant_id": tenant, "scan_id": scan_id})
    if row is None or row["event_id"] != event_id:
        raise NotInTenant("no such scan at this event", scan_id=scan_id)
    command = UndoScan(
        invitation_id=InvitationId(row["invitation_id"]),
        scan_id=scan_id,
        window_seconds=event["undo_window_seconds"],
    )
    result = await services.bus.send(command, context(staff))
    return ok(UndoView(scan_id=scan_id, status=result.value))


@router.get("/alerts", response_model=Envelope[list[ScanView]], responses=NOT_FOUND)
async def alerts(event_id: str, staff: Staff, store: Store) -> Envelope[list[ScanView]]:
    """Double entries: scans of guests already inside, each with the scan it collided with."""
    tenant = staff.require_tenant()
    await load_event(store, tenant, event_id)
    found = await store.fetchall(
        f"SELECT {', '.join(SCANS.columns)} FROM qe_scans "
        "WHERE tenant_id = ? AND event_id = ? AND alert = ? ORDER BY position",
        (tenant, event_id, SCANS.encode("alert", True)),
    )
    views = [SCANS.decode_row(r) for r in found]
    return ok([ScanView.model_validate({k: v[k] for k in ScanView.model_fields}) for v in views])


def _scan_time(item: ScanIn) -> float:
    # Scans without a time (sent online) sort after every timed one.
    return item.scanned_at.timestamp() if item.scanned_at else float("inf")
