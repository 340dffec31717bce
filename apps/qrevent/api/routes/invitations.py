"""Invitations: issue one per guest or family, its signed QR code, revoke, audit trail."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from apps.qrevent.api.deps import IdempotencyKey, Services, Store, context, load_event
from apps.qrevent.api.guest_access import GuestCaller, InvitationHeader
from apps.qrevent.api.routes.families import load_family
from apps.qrevent.api.routes.guests import load_guest
from apps.qrevent.api.routes.pages import GUEST_PATH
from apps.qrevent.commands import IssueInvitation, RevokeInvitation
from apps.qrevent.domain.ids import InvitationId
from apps.qrevent.errors import NotInTenant
from apps.qrevent.projections.checkin import SCANS
from apps.qrevent.projections.directory import GUESTS, INVITATIONS
from apps.qrevent.qrcode import MEDIA_TYPES, render
from apps.qrevent.queries import one, rows
from headwater.errors import InvalidInput
from headwater.http import AUTH_ERRORS, MAX_INT64, NOT_FOUND, Envelope, Staff, ok

router = APIRouter(prefix="/api", tags=["qrevent: invitations"], responses=AUTH_ERRORS)

Ref = Annotated[str, Field(min_length=1, max_length=100)]


class InvitationIn(BaseModel):
    """Exactly one of: a guest (alone) or a family (all its members, one code)."""

    model_config = ConfigDict(extra="forbid")

    guest_id: Ref | None = None
    family_id: Ref | None = None


class RevokeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, Field(min_length=1, max_length=200)] = "revoked"


class InvitationView(BaseModel):
    invitation_id: str
    event_id: str
    family_id: str | None
    guest_ids: list[str]
    revoked: bool
    revoked_reason: str | None
    #: The signed payload the QR code encodes: ids only, no personal data.
    code: str


class ScanView(BaseModel):
    scan_id: str
    decision: str
    reason: str | None
    gate: str
    device: str
    scanned_at: str
    received_at: str
    guest_ids: list[str]
    alert: bool
    undone: bool


class RevocationList(BaseModel):
    event_id: str
    key_id: str
    revoked: list[str]
    #: Pass as ``since`` next time to fetch only newer revocations.
    position: int


class PublicKey(BaseModel):
    key_id: str
    algorithm: Literal["Ed25519"] = "Ed25519"
    public_key: str


async def load_invitation(store: Store, tenant: str, invitation_id: str) -> dict[str, Any]:
    found = await one(store, INVITATIONS, {"invitation_id": invitation_id, "tenant_id": tenant})
    if found is None:
        raise NotInTenant("no such invitation", invitation_id=invitation_id)
    return found


def view(row: dict[str, Any], code: str) -> InvitationView:
    fields = {k: row[k] for k in InvitationView.model_fields if k != "code"}
    return InvitationView(**fields, code=code)


@router.post(
    "/events/{event_id}/invitations",
    summary="Issue an invitation (a signed QR code) to a guest or family",
    status_code=201,
    response_model=Envelope[InvitationView],
    responses=NOT_FOUND,
)
async def issue_invitation(
    event_id: str,
    body: InvitationIn,
    staff: Staff,
    services: Services,
    store: Store,
    key: IdempotencyKey = None,
) -> Envelope[InvitationView]:
    tenant = staff.require_tenant()
    await load_event(store, tenant, event_id)
    # Checked after the event, so another organizer's event is a 404 whatever the body.
    if (body.guest_id is None) == (body.family_id is None):
        raise InvalidInput("give exactly one of guest_id or family_id")
    if body.family_id is not None:
        family = await load_family(store, tenant, body.family_id)
        members = await rows(store, GUESTS, {"tenant_id": tenant, "family_id": body.family_id})
        guest_ids = [m["guest_id"] for m in members]
        if family["event_id"] != event_id or not guest_ids:
            raise NotInTenant("no such family with guests in this event")
    else:
        assert body.guest_id is not None
        guest = await load_guest(store, tenant, body.guest_id)
        if guest["event_id"] != event_id:
            raise NotInTenant("no such guest in this event", guest_id=body.guest_id)
        guest_ids = [body.guest_id]
    ctx = context(staff, key)
    invitation_id = InvitationId(ctx.command_id) if key else InvitationId.new()
    command = IssueInvitation(
        invitation_id=invitation_id,
        event_id=event_id,
        guest_ids=guest_ids,
        family_id=body.family_id,
    )
    await services.bus.send(command, ctx)
    row = await load_invitation(store, tenant, invitation_id.value)
    return ok(view(row, services.signer.sign(tenant, event_id, invitation_id.value)))


@router.get(
    "/invitations/{invitation_id}",
    summary="One invitation",
    response_model=Envelope[InvitationView],
    responses=NOT_FOUND,
)
async def get_invitation(
    invitation_id: str, staff: Staff, services: Services, store: Store
) -> Envelope[InvitationView]:
    tenant = staff.require_tenant()
    row = await load_invitation(store, tenant, invitation_id)
    return ok(view(row, services.signer.sign(tenant, row["event_id"], invitation_id)))


@router.get(
    "/invitations/{invitation_id}/qr.{fmt}",
    summary="An invitation's QR code as an image (png or svg)",
    responses={**NOT_FOUND, 200: {"content": {"image/png": {}, "image/svg+xml": {}}}},
    response_class=Response,
)
async def invitation_qr(
    invitation_id: str,
    fmt: Literal["png", "svg"],
    request: Request,
    staff: Staff,
    services: Services,
    store: Store,
) -> Response:
    """The guest-page link with the code in its fragment: a phone camera opens the guest
    page; the door scanner reads the code out of the same link."""
    tenant = staff.require_tenant()
    row = await load_invitation(store, tenant, invitation_id)
    code = services.signer.sign(tenant, row["event_id"], invitation_id)
    link = f"{str(request.base_url).rstrip('/')}{GUEST_PATH}#{code}"
    return Response(render(link, fmt), media_type=MEDIA_TYPES[fmt])


@router.post(
    "/invitations/{invitation_id}/revoke",
    summary="Revoke an invitation: its code stops working at once",
    response_model=Envelope[InvitationView],
    responses=NOT_FOUND,
)
async def revoke_invitation(
    invitation_id: str, body: RevokeIn, staff: Staff, services: Services, store: Store
) -> Envelope[InvitationView]:
    tenant = staff.require_tenant()
    await load_invitation(store, tenant, invitation_id)
    command = RevokeInvitation(invitation_id=InvitationId(invitation_id), reason=body.reason)
    await services.bus.send(command, context(staff))
    row = await load_invitation(store, tenant, invitation_id)
    return ok(view(row, services.signer.sign(tenant, row["event_id"], invitation_id)))


@router.get(
    "/invitations/{invitation_id}/audit",
    summary="An invitation's audit trail (issued, scanned, revoked)",
    response_model=Envelope[list[ScanView]],
    responses=NOT_FOUND,
)
async def audit_trail(invitation_id: str, staff: Staff, store: Store) -> Envelope[list[ScanView]]:
    """Every scan of this invitation, accepted or refused with its reason, in log order."""
    tenant = staff.require_tenant()
    await load_invitation(store, tenant, invitation_id)
    scans = await rows(store, SCANS, {"tenant_id": tenant, "invitation_id": invitation_id})
    return ok([ScanView.model_validate({k: s[k] for k in ScanView.model_fields}) for s in scans])


@router.get(
    "/events/{event_id}/revocations",
    summary="An event's revoked invitations (for offline door scanners)",
    response_model=Envelope[RevocationList],
    responses=NOT_FOUND,
)
async def revocations(
    event_id: str,
    staff: Staff,
    services: Services,
    store: Store,
    since: Annotated[int, Query(ge=0, le=MAX_INT64)] = 0,
) -> Envelope[RevocationList]:
    """What scanners sync to refuse revoked codes offline."""
    tenant = staff.require_tenant()
    await load_event(store, tenant, event_id)
    found = await store.fetchall(
        "SELECT invitation_id, revoked_position FROM qe_invitations "
        "WHERE tenant_id = ? AND event_id = ? AND revoked_position > ? "
        "ORDER BY revoked_position",
        (tenant, event_id, since),
    )
    position = max([since, *(int(r[1]) for r in found)])
    return ok(
        RevocationList(
            event_id=event_id,
            key_id=services.signer.key_id(tenant),
            revoked=[str(r[0]) for r in found],
            position=position,
        )
    )


@router.get(
    "/qr/keys",
    summary="The public keys that verify invitation codes offline",
    response_model=Envelope[list[PublicKey]],
)
async def public_keys(staff: Staff, services: Services) -> Envelope[list[PublicKey]]:
    """The organizer's verification key, for scanners that check codes offline."""
    tenant = staff.require_tenant()
    key = PublicKey(
        key_id=services.signer.key_id(tenant), public_key=services.signer.public_key_b64(tenant)
    )
    return ok([key])


@router.get(
    "/me/qr.svg",
    summary="The guest's own invitation as a QR code (SVG), to show at the door",
    responses={200: {"content": {"image/svg+xml": {}}}},
    response_class=Response,
)
async def own_qr(request: Request, guest: GuestCaller, code: InvitationHeader = None) -> Response:
    """The caller's own invitation as a QR code (the same link the organizer prints),
    for the guest page to show at the door."""
    del guest  # the dependency checked the code; the image repeats it, signed as sent
    link = f"{str(request.base_url).rstrip('/')}{GUEST_PATH}#{code}"
    return Response(render(link, "svg"), media_type=MEDIA_TYPES["svg"])
