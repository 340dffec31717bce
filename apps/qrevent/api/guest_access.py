"""Guests hold no account: their invitation's signed code is their credential.

The guest page sends it as ``X-Invitation``. The code names its invitation, the
invitation names its organizer, and that organizer's key must verify the code, so
a guest can reach their own organizer's games and nothing else; a revoked
invitation stops working at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import Depends, Header

from apps.qrevent.api.deps import Services, Store
from apps.qrevent.displays import display_event
from apps.qrevent.projections.directory import INVITATIONS
from apps.qrevent.signing import peek_invitation
from headwater.errors import Unauthorized
from headwater.http import CurrentPrincipal

InvitationHeader = Annotated[
    str | None,
    Header(alias="X-Invitation", max_length=512, description="The invitation's signed code"),
]


@dataclass(frozen=True, slots=True)
class Guest:
    tenant_id: str
    invitation_id: str
    event_id: str
    participant_id: str
    kind: Literal["guest", "family"]
    guest_ids: list[str]


async def guest_of(code: str, services: Services, store: Store) -> Guest:
    invitation_id = peek_invitation(code)
    row = None
    if invitation_id is not None:
        found = await store.fetchone(
            f"SELECT {', '.join(INVITATIONS.columns)} FROM qe_invitations WHERE invitation_id = ?",
            (invitation_id,),
        )
        row = None if found is None else INVITATIONS.decode_row(found)
    if row is None:
        raise Unauthorized("this invitation code is not valid", reason="unknown_invitation")
    verified = services.signer.verify(row["tenant_id"], code)
    if verified.refusal is not None:
        raise Unauthorized("this invitation code is not valid", reason=verified.refusal)
    if row["revoked"]:
        raise Unauthorized("this invitation was revoked", reason="revoked")
    family = row["family_id"]
    return Guest(
        tenant_id=row["tenant_id"],
        invitation_id=row["invitation_id"],
        event_id=row["event_id"],
        participant_id=family or row["guest_ids"][0],
        kind="family" if family else "guest",
        guest_ids=list(row["guest_ids"]),
    )


async def require_guest(services: Services, store: Store, code: InvitationHeader = None) -> Guest:
    if not code:
        raise Unauthorized("send the invitation code as X-Invitation")
    return await guest_of(code, services, store)


@dataclass(frozen=True, slots=True)
class Viewer:
    tenant_id: str
    guest: Guest | None
    #: Set for a venue screen's display credential: the one event it may show.
    display_event: str | None = None


async def viewer(
    principal: CurrentPrincipal, services: Services, store: Store, code: InvitationHeader = None
) -> Viewer:
    """Staff (by their credential), a guest (by their code) or a venue screen (by its
    display credential): who may see a leaderboard."""
    if code:
        guest = await guest_of(code, services, store)
        return Viewer(guest.tenant_id, guest)
    if not principal.is_authenticated:
        raise Unauthorized("sign in, or send the invitation code as X-Invitation")
    return Viewer(principal.require_tenant(), None, display_event(principal))


GuestCaller = Annotated[Guest, Depends(require_guest)]
LeaderboardViewer = Annotated[Viewer, Depends(viewer)]
