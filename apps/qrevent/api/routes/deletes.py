"""Deletes: each records a tombstone through the bus; afterwards the thing answers 404."""

from __future__ import annotations

from fastapi import APIRouter, Response

from apps.qrevent.api.deps import Services, Store, context, load_event
from apps.qrevent.api.routes.families import load_family
from apps.qrevent.api.routes.games import load_game
from apps.qrevent.api.routes.guests import load_guest
from apps.qrevent.api.routes.invitations import load_invitation
from apps.qrevent.delete_commands import (
    DeleteEvent,
    DeleteFamily,
    DeleteGame,
    DeleteGuest,
    DeleteInvitation,
)
from apps.qrevent.domain.ids import EventId, FamilyId, GameId, GuestId, InvitationId
from apps.qrevent.leaderboard import cache_tag
from apps.qrevent.projections.games import GAMES
from headwater.http import AUTH_ERRORS, NOT_FOUND, AppRuntime, Staff

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


@router.delete(
    "/games/{game_id}",
    summary="Delete a game and its scores",
    status_code=204,
    responses=NOT_FOUND,
)
async def delete_game(
    game_id: str, staff: Staff, services: Services, store: Store, runtime: AppRuntime
) -> Response:
    """The game and its leaderboard leave the read models; a second delete is a 404."""
    await load_game(store, staff.require_tenant(), game_id)
    await services.bus.send(DeleteGame(game_id=GameId(game_id)), context(staff))
    await _drop_boards(runtime, [game_id])
    return Response(status_code=204)


async def _drop_boards(runtime: AppRuntime, game_ids: list[str]) -> None:
    # Boards are cached by game (not by table), on every node: dropped by their tag.
    if runtime.cache is not None and game_ids:
        await runtime.cache.invalidate_tags(*(cache_tag(g) for g in game_ids))


@router.delete(
    "/events/{event_id}",
    summary="Delete an event with its guests, families, invitations, games and scans",
    status_code=204,
    responses=NOT_FOUND,
)
async def delete_event(
    event_id: str, staff: Staff, services: Services, store: Store, runtime: AppRuntime
) -> Response:
    """One tombstone; the read models drop everything of the event in its transaction,
    so its codes are refused at the door and every id of it answers 404."""
    tenant = staff.require_tenant()
    await load_event(store, tenant, event_id)
    games = await store.fetchall(
        f"SELECT game_id FROM {GAMES.ref} WHERE tenant_id = ? AND event_id = ?", [tenant, event_id]
    )
    await services.bus.send(DeleteEvent(event_id=EventId(event_id)), context(staff))
    await _drop_boards(runtime, [str(row[0]) for row in games])
    return Response(status_code=204)
