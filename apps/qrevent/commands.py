"""Commands and their handlers: each loads one aggregate, decides, and returns a result.

Handlers are pure decisions (the bus may run them again on fresh state after a
concurrent write), so anything from outside the aggregate (the QR verification,
the event's undo window) is decided by the route and passed in the command.
"""

from __future__ import annotations

from typing import Any

from apps.qrevent.caching import InvalidatingBus
from apps.qrevent.delete_commands import register_delete_handlers
from apps.qrevent.domain.event import LiveEvent, Status
from apps.qrevent.domain.ids import EventId, FamilyId, GuestId, InvitationId
from apps.qrevent.domain.invitation import Direction, Invitation, ScanResult
from apps.qrevent.domain.people import Family, Guest
from apps.qrevent.errors import NotInTenant
from apps.qrevent.game_commands import register_game_handlers
from headwater.cache import Cache
from headwater.domain import Command, CommandBus, Repository


class CreateEvent(Command[str], name="qrevent.CreateEvent"):
    event_id: EventId
    name: str
    venue: str
    starts_at: str
    capacity: int
    gates: list[str]
    undo_window_seconds: int


class UpdateEvent(Command[None], name="qrevent.UpdateEvent"):
    event_id: EventId
    changes: dict[str, Any]


class ChangeEventStatus(Command[str], name="qrevent.ChangeEventStatus"):
    event_id: EventId
    status: Status


class RegisterGuest(Command[str], name="qrevent.RegisterGuest"):
    guest_id: GuestId
    event_id: str
    first_name: str
    last_name: str
    email: str | None = None
    family_id: str | None = None


class UpdateGuest(Command[None], name="qrevent.UpdateGuest"):
    guest_id: GuestId
    changes: dict[str, Any]


class CreateFamily(Command[str], name="qrevent.CreateFamily"):
    family_id: FamilyId
    event_id: str
    name: str


class RenameFamily(Command[None], name="qrevent.RenameFamily"):
    family_id: FamilyId
    name: str


class IssueInvitation(Command[str], name="qrevent.IssueInvitation"):
    invitation_id: InvitationId
    event_id: str
    guest_ids: list[str]
    family_id: str | None = None


class RevokeInvitation(Command[None], name="qrevent.RevokeInvitation"):
    invitation_id: InvitationId
    reason: str


class Scan(Command[ScanResult], name="qrevent.Scan"):
    """One scan; its command id derives from the scanner's ``scan_id``."""

    invitation_id: InvitationId
    scan_id: str
    event_id: str
    direction: Direction
    gate: str
    device: str
    scanned_at: str | None
    guest_ids: list[str] | None
    #: Set by the server's signature check (a pure function of the code).
    refusal: str | None


class NoteReusedScanId(Command[None], name="qrevent.NoteReusedScanId"):
    """Put a refused reuse of a device's ``scan_id`` on one invitation's audit trail."""

    invitation_id: InvitationId
    scan_id: str
    event_id: str
    gate: str
    device: str
    other_invitation_id: str


class UndoScan(Command[str], name="qrevent.UndoScan"):
    invitation_id: InvitationId
    scan_id: str
    device: str
    window_seconds: int


def _existing(aggregate: Any) -> None:
    # A deleted aggregate answers like one that never was: 404, never a half-dead edit.
    if not aggregate.exists or getattr(aggregate, "deleted", False):
        raise NotInTenant(f"no such {type(aggregate).__name__.lower()}")


def build_bus(repository: Repository, cache: Cache | None = None) -> CommandBus:
    # Commands drop the cached reads their events made stale (apps.qrevent.caching).
    bus = InvalidatingBus(repository)
    bus.read_cache = cache

    @bus.handler(CreateEvent, LiveEvent)
    def create_event(c: CreateEvent, event: LiveEvent) -> str:
        event.create(**c.model_dump(exclude={"event_id"}))
        return event.id.value

    @bus.handler(UpdateEvent, LiveEvent)
    def update_event(c: UpdateEvent, event: LiveEvent) -> None:
        _existing(event)
        event.update(c.changes)

    @bus.handler(ChangeEventStatus, LiveEvent)
    def change_status(c: ChangeEventStatus, event: LiveEvent) -> str:
        _existing(event)
        event.move_to(c.status)
        return event.status

    @bus.handler(RegisterGuest, Guest)
    def register_guest(c: RegisterGuest, guest: Guest) -> str:
        guest.register(**c.model_dump(exclude={"guest_id"}))
        return guest.id.value

    @bus.handler(UpdateGuest, Guest)
    def update_guest(c: UpdateGuest, guest: Guest) -> None:
        _existing(guest)
        guest.update(c.changes)

    @bus.handler(CreateFamily, Family)
    def create_family(c: CreateFamily, family: Family) -> str:
        family.create(c.event_id, c.name)
        return family.id.value

    @bus.handler(RenameFamily, Family)
    def rename_family(c: RenameFamily, family: Family) -> None:
        _existing(family)
        family.rename(c.name)

    @bus.handler(IssueInvitation, Invitation)
    def issue(c: IssueInvitation, invitation: Invitation) -> str:
        invitation.issue(c.event_id, c.guest_ids, c.family_id)
        return invitation.id.value

    @bus.handler(RevokeInvitation, Invitation)
    def revoke(c: RevokeInvitation, invitation: Invitation) -> None:
        _existing(invitation)
        invitation.revoke(c.reason)

    @bus.handler(Scan, Invitation)
    def scan(c: Scan, invitation: Invitation) -> ScanResult:
        _existing(invitation)
        return invitation.scan(**c.model_dump(exclude={"invitation_id"}))

    @bus.handler(NoteReusedScanId, Invitation)
    def note_reuse(c: NoteReusedScanId, invitation: Invitation) -> None:
        _existing(invitation)
        invitation.note_reused_scan_id(**c.model_dump(exclude={"invitation_id"}))

    @bus.handler(UndoScan, Invitation)
    def undo(c: UndoScan, invitation: Invitation) -> str:
        _existing(invitation)
        return invitation.undo(c.scan_id, c.device, c.window_seconds)

    register_game_handlers(bus)
    register_delete_handlers(bus)
    # Imported late: the importer itself sends this module's guest and family commands.
    from apps.qrevent.importer import register_import_handlers

    register_import_handlers(bus)
    return bus
