"""The door: scans (online and offline batches), undo, alerts.

A scan's ``scan_id`` is chosen by the scanner; with the event and the device it
names the command: sending it again, by retry or by re-uploading an offline batch,
returns the first decision and writes nothing. The command is bound to what was
scanned (code, direction, gate, guests): the same scan id sent with anything else,
say by a device whose counter restarted, is refused with 422 ``scan_id_reused`` and
noted on both invitations' audit trails, never answered with the first scan's
decision (which would show green for a code this scan did not read). Every scan
that names a real invitation is recorded on it, refused ones with their reason, so
the invitation's audit trail is complete.
"""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import replace
from datetime import datetime
from typing import Annotated, Any, Final

import orjson
from fastapi import APIRouter, Query
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from apps.qrevent.api.deps import Services, Store, context, load_event
from apps.qrevent.api.routes.invitations import ScanView
from apps.qrevent.commands import NoteReusedScanId, Scan, UndoScan
from apps.qrevent.domain.ids import InvitationId
from apps.qrevent.domain.invitation import Direction, ScanResult
from apps.qrevent.errors import AmbiguousScanId, NotInTenant, ScanIdReused, UnknownGate
from apps.qrevent.projections.checkin import SCANS
from apps.qrevent.projections.directory import FAMILIES, GUESTS, INVITATIONS
from apps.qrevent.queries import one, rows
from apps.qrevent.services import QrEventServices
from headwater import Principal
from headwater.domain import CommandContext, idempotency
from headwater.eventstore import EventStore, RecordedEvent
from headwater.http import AUTH_ERRORS, NOT_FOUND, Envelope, Staff, ok

router = APIRouter(
    prefix="/api/events/{event_id}", tags=["qrevent: check-in"], responses=AUTH_ERRORS
)

TOKEN: Final = r"^[\w:.-]+$"
Token = Annotated[str, Field(min_length=1, max_length=100, pattern=TOKEN)]
#: Metadata key of a scan's events: the digest of what was scanned (see ``_request``).
SCANNED: Final = "qrevent_scanned"


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


class ScanAnswer(ScanResult):
    """The decision, and who it is about, for the person at the door to read out."""

    #: The family's name for a family invitation, else the guest's; None for a code
    #: that names no invitation of this organizer.
    name: str | None = None
    #: How many people the invitation covers.
    party_size: int = 0


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
    device = body.device or staff.subject
    # A JSON list: the parts may hold ":" themselves, and must not run into each other.
    key = orjson.dumps(["scan", event_id, device, body.scan_id]).decode()
    ctx = context(staff, key)
    scanned = _request(body)
    ctx = replace(ctx, metadata={**ctx.metadata, SCANNED: scanned})
    prior = await store.read_event(idempotency.event_id(ctx, 0))
    verified = services.signer.verify(tenant, body.code)
    if prior is not None and prior.tenant_id == tenant:
        if prior.metadata.get(SCANNED) != scanned:
            await _note_reuse(services, staff, ctx, prior, verified.invitation_id, body, device)
            raise ScanIdReused(
                "this device sent this scan id at this event already, for another scan",
                scan_id=body.scan_id,
                device=device,
            )
        # The first decision stands, even if the event has closed since.
        return ScanResult.model_validate(prior.metadata[idempotency.RESULT])
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
        device=device,
        scanned_at=None if body.scanned_at is None else body.scanned_at.isoformat(),
        guest_ids=body.guest_ids,
        refusal=refusal,
    )
    return (await services.bus.send(command, ctx)).value


async def answer(store: EventStore, tenant: str, result: ScanResult) -> ScanAnswer:
    """The result with the invitation's name and party size (read, never recorded)."""
    found = await one(
        store, INVITATIONS, {"invitation_id": result.invitation_id, "tenant_id": tenant}
    )
    if not result.invitation_id or found is None:
        return ScanAnswer(**result.model_dump())
    name: str | None = None
    if found["family_id"]:
        family = await one(store, FAMILIES, {"family_id": found["family_id"], "tenant_id": tenant})
        name = family["name"] if family else None
    if name is None:
        guests = await rows(
            store, GUESTS, {"invitation_id": result.invitation_id, "tenant_id": tenant}
        )
        name = ", ".join(f"{g['first_name']} {g['last_name']}".strip() for g in guests) or None
    return ScanAnswer(**result.model_dump(), name=name, party_size=len(found["guest_ids"]))


@router.post(
    "/scans",
    summary="Scan an invitation at the door: admit, refuse or alert",
    response_model=Envelope[ScanAnswer],
    responses=NOT_FOUND,
)
async def scan(
    event_id: str, body: ScanIn, staff: Staff, services: Services, store: Store
) -> Envelope[ScanAnswer]:
    tenant = staff.require_tenant()
    event = await load_event(store, tenant, event_id)
    return ok(await answer(store, tenant, await decide(services, store, staff, event, body)))


@router.post(
    "/scans/batch",
    summary="Upload scans a door made offline, in order",
    response_model=Envelope[list[ScanAnswer]],
    responses=NOT_FOUND,
)
async def scan_batch(
    event_id: str, body: BatchIn, staff: Staff, services: Services, store: Store
) -> Envelope[list[ScanAnswer]]:
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
    tenant = staff.require_tenant()
    return ok([await answer(store, tenant, results[i]) for i in range(len(body.scans))])


def _request(body: ScanIn) -> str:
    """What a scan id is bound to: a repeat must carry the same, or it is another scan.

    ``scanned_at`` is left out: a scanner resending an online scan may stamp it anew.
    """
    scanned = [body.code, body.direction, body.gate, body.guest_ids]
    return hashlib.sha256(orjson.dumps(scanned)).hexdigest()


async def _note_reuse(
    services: QrEventServices,
    staff: Principal,
    ctx: CommandContext,
    prior: RecordedEvent,
    named: str | None,
    body: ScanIn,
    device: str,
) -> None:
    """Note the refused reuse on the first scan's invitation and on the one the new
    code names (if it names one of this organizer's). Each note's command id comes
    from the reuse itself, so a resent refused scan is noted once."""
    first = ScanResult.model_validate(prior.metadata[idempotency.RESULT]).invitation_id
    targets = [(first, named or "")]
    if named is not None and named != first:
        targets.append((named, first))
    for invitation, other in targets:
        note = NoteReusedScanId(
            invitation_id=InvitationId(invitation),
            scan_id=body.scan_id,
            event_id=prior.data["event_id"],
            gate=body.gate,
            device=device,
            other_invitation_id=other,
        )
        note_key = f"reuse:{ctx.command_id}:{ctx.metadata[SCANNED]}:{invitation}"
        # NotInTenant: the code names an invitation this organizer does not have.
        with contextlib.suppress(NotInTenant):
            await services.bus.send(note, context(staff, note_key))


@router.post(
    "/scans/{scan_id}/undo",
    summary="Undo a scan made by mistake",
    response_model=Envelope[UndoView],
    responses=NOT_FOUND,
)
async def undo_scan(
    event_id: str,
    scan_id: str,
    staff: Staff,
    services: Services,
    store: Store,
    device: Annotated[str | None, Query(min_length=1, max_length=100, pattern=TOKEN)] = None,
) -> Envelope[UndoView]:
    """Undo a scan. Scan ids are per device: ``device`` says whose, and is needed only
    when several devices sent this scan id at this event."""
    tenant = staff.require_tenant()
    event = await load_event(store, tenant, event_id)
    where = {"tenant_id": tenant, "event_id": event_id, "scan_id": scan_id, "kind": "scan"}
    if device is not None:
        where["device"] = device
    found = await rows(store, SCANS, where)
    if not found:
        raise NotInTenant("no such scan at this event", scan_id=scan_id)
    if len(found) > 1:
        raise AmbiguousScanId(
            "several devices sent this scan id; say which with ?device=",
            devices=sorted(r["device"] for r in found),
        )
    row = found[0]
    command = UndoScan(
        invitation_id=InvitationId(row["invitation_id"]),
        scan_id=scan_id,
        device=row["device"],
        window_seconds=event["undo_window_seconds"],
    )
    result = await services.bus.send(command, context(staff))
    return ok(UndoView(scan_id=scan_id, status=result.value))


@router.get(
    "/alerts",
    summary="Scans that raised an alert (reuse, revoked, wrong event)",
    response_model=Envelope[list[ScanView]],
    responses=NOT_FOUND,
)
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
