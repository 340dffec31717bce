"""Deletes: each records a tombstone through the bus; afterwards the thing answers 404."""

from __future__ import annotations

from fastapi import APIRouter, Response

from apps.qrevent.api.deps import Services, Store, context
from apps.qrevent.api.routes.families import load_family
from apps.qrevent.api.routes.guests import load_guest
from apps.qrevent.api.routes.invitations import load_invitation
from apps.qrevent.delete_commands import DeleteFamily, DeleteGuest, DeleteInvitation
from apps.qrevent.domain.ids import FamilyId, GuestId, InvitationId
from headwater.http import AUTH_ERRORS, NOT_FOUND, Staff

router = APIRouter(prefix="/api", tags=["qrevent: deletes"], responses=AUTH_ERRORS)


@router.delete(
    "/families/{family_id}",
    summary="Delete a family (its guests stay, without a family)",
    status_code=204,
    responses=NOT_FOUND,
)
async def delete_family(family_id: str, staff: Staff, services: Services, store: Store) -> Response:
    """Delete a family; its guests stay, without a family. A second delete is a 404."""
    # The read model answers "is it this tenant's?" (404 either way, never which).
    await load_family(store, staff.require_tenant(), family_id)
    await services.bus.send(DeleteFamily(family_id=FamilyId(family_id)), context(staff))
    return Response(status_code=204)


@router.delete(
    "/guests/{guest_id}",
    summary="Delete a guest (and their invitation, when it admits only them)",
    status_code=204,
    responses=NOT_FOUND,
)
async def delete_guest(guest_id: str, staff: Staff, services: Services, store: Store) -> Response:
    """The guest leaves the lists; an invitation that admitted only them is revoked and
    deleted, so their code is refused at the door. A second delete is a 404."""
    tenant = staff.require_tenant()
    guest = await load_guest(store, tenant, guest_id)
    invitation_id = guest["invitation_id"]
    if invitation_id is not None:
        invitation = await load_invitation(store, tenant, invitation_id)
        if list(invitation["guest_ids"]) == [guest_id]:
            # The code first: were the guest deleted and the code not, it would still admit.
            await services.bus.send(
                DeleteInvitation(invitation_id=InvitationId(invitation_id)), context(staff)
            )
    await services.bus.send(DeleteGuest(guest_id=GuestId(guest_id)), context(staff))
    return Response(status_code=204)


@router.delete(
    "/invitations/{invitation_id}",
    summary="Revoke and delete an invitation (its code is refused at the door)",
    status_code=204,
    responses=NOT_FOUND,
)
async def delete_invitation(
    invitation_id: str, staff: Staff, services: Services, store: Store
) -> Response:
    """Revoked first (scanners that sync revocations learn it), then deleted; its guests
    stay, without an invitation. A second delete is a 404."""
    await load_invitation(store, staff.require_tenant(), invitation_id)
    command = DeleteInvitation(invitation_id=InvitationId(invitation_id))
    await services.bus.send(command, context(staff))
    return Response(status_code=204)
