"""Deleting: commands that record a tombstone event; the read models drop the rows."""

from __future__ import annotations

from apps.qrevent.domain.event import LiveEvent
from apps.qrevent.domain.game import Game
from apps.qrevent.domain.ids import EventId, FamilyId, GameId, GuestId, InvitationId
from apps.qrevent.domain.invitation import Invitation
from apps.qrevent.domain.people import Family, Guest
from apps.qrevent.errors import NotInTenant
from headwater.domain import Command, CommandBus


class DeleteFamily(Command[None], name="qrevent.DeleteFamily"):
    family_id: FamilyId


class DeleteGuest(Command[None], name="qrevent.DeleteGuest"):
    guest_id: GuestId


class DeleteInvitation(Command[None], name="qrevent.DeleteInvitation"):
    invitation_id: InvitationId


class DeleteGame(Command[None], name="qrevent.DeleteGame"):
    game_id: GameId


class DeleteEvent(Command[None], name="qrevent.DeleteEvent"):
    event_id: EventId


def register_delete_handlers(bus: CommandBus) -> None:
    @bus.handler(DeleteFamily, Family)
    def delete_family(c: DeleteFamily, family: Family) -> None:
        if not family.exists or family.deleted:
            raise NotInTenant("no such family")
        family.delete()

    @bus.handler(DeleteGuest, Guest)
    def delete_guest(c: DeleteGuest, guest: Guest) -> None:
        if not guest.exists or guest.deleted:
            raise NotInTenant("no such guest")
        guest.delete()

    @bus.handler(DeleteInvitation, Invitation)
    def delete_invitation(c: DeleteInvitation, invitation: Invitation) -> None:
        if not invitation.exists or invitation.deleted:
            raise NotInTenant("no such invitation")
        invitation.delete()

    @bus.handler(DeleteGame, Game)
    def delete_game(c: DeleteGame, game: Game) -> None:
        if not game.exists or game.deleted:
            raise NotInTenant("no such game")
        game.delete()

    @bus.handler(DeleteEvent, LiveEvent)
    def delete_event(c: DeleteEvent, event: LiveEvent) -> None:
        if not event.exists or event.deleted:
            raise NotInTenant("no such event")
        event.delete()
