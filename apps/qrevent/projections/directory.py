"""Events, families, guests and invitations as rows to list, search and filter."""

from __future__ import annotations

from collections.abc import Iterator

from apps.qrevent.domain import event as ev
from apps.qrevent.domain import invitation as inv
from apps.qrevent.domain import people
from apps.qrevent.projections._util import aggregate_id, tenant
from headwater.eventstore import RecordedEvent, Statement
from headwater.projections import BOOLEAN, INTEGER, JSON, TEXT, Column, Projection, Table

NULLABLE_TEXT = Column(TEXT, nullable=True)

EVENTS = Table(
    "qe_events",
    {
        "event_id": TEXT,
        "tenant_id": TEXT,
        "name": TEXT,
        "venue": TEXT,
        "starts_at": TEXT,
        "capacity": INTEGER,
        "gates": JSON,
        "undo_window_seconds": INTEGER,
        "status": TEXT,
        "position": INTEGER,
    },
    primary_key="event_id",
    # One index per sort the events list declares (apps.qrevent.queries.EVENT_SORTS).
    indexes=[
        ("tenant_id", "position"),
        ("tenant_id", "name", "position"),
        ("tenant_id", "starts_at", "position"),
    ],
    tenant_column="tenant_id",
)
FAMILIES = Table(
    "qe_families",
    {
        "family_id": TEXT,
        "tenant_id": TEXT,
        "event_id": TEXT,
        "name": TEXT,
        "position": INTEGER,
    },
    primary_key="family_id",
    indexes=[("tenant_id", "event_id", "position"), ("tenant_id", "event_id", "name", "position")],
    tenant_column="tenant_id",
)
GUESTS = Table(
    "qe_guests",
    {
        "guest_id": TEXT,
        "tenant_id": TEXT,
        "event_id": TEXT,
        "first_name": TEXT,
        "last_name": TEXT,
        "email": NULLABLE_TEXT,
        "family_id": NULLABLE_TEXT,
        "invitation_id": NULLABLE_TEXT,
        "position": INTEGER,
    },
    primary_key="guest_id",
    # One index per sort the guests list declares (apps.qrevent.queries.GUEST_SORTS).
    indexes=[
        ("tenant_id", "event_id", "position"),
        ("tenant_id", "event_id", "last_name", "position"),
        ("tenant_id", "event_id", "first_name", "position"),
        ("tenant_id", "family_id"),
        # The door's "who is on this invitation" after each scan: a lookup, not a
        # scan of the tenant's guests (which the sort indexes made the planner pick).
        ("tenant_id", "invitation_id"),
    ],
    tenant_column="tenant_id",
)
INVITATIONS = Table(
    "qe_invitations",
    {
        "invitation_id": TEXT,
        "tenant_id": TEXT,
        "event_id": TEXT,
        "family_id": NULLABLE_TEXT,
        "guest_ids": JSON,
        "revoked": Column(BOOLEAN, default=False),
        "revoked_reason": NULLABLE_TEXT,
        #: The log position of the revocation: scanners sync "revoked since P".
        "revoked_position": Column(INTEGER, nullable=True),
    },
    primary_key="invitation_id",
    indexes=[("tenant_id", "event_id", "revoked_position")],
    tenant_column="tenant_id",
)

directory = Projection(
    "qe_directory", tables=[EVENTS, FAMILIES, GUESTS, INVITATIONS], mode="inline"
)


@directory.on(ev.EventCreated)
def _event_created(event: RecordedEvent) -> Statement:
    data = event.data
    return EVENTS.upsert(
        {
            "event_id": aggregate_id(event),
            "tenant_id": tenant(event),
            "name": data["name"],
            "venue": data["venue"],
            "starts_at": data["starts_at"],
            "capacity": data["capacity"],
            "gates": data["gates"],
            "undo_window_seconds": data["undo_window_seconds"],
            "status": "draft",
            "position": event.position,
        }
    )


@directory.on(ev.EventUpdated)
def _event_updated(event: RecordedEvent) -> Statement:
    return EVENTS.update(event.data["changes"], where={"event_id": aggregate_id(event)})


@directory.on(ev.EventStatusChanged)
def _event_status(event: RecordedEvent) -> Statement:
    return EVENTS.update({"status": event.data["status"]}, where={"event_id": aggregate_id(event)})


@directory.on(people.FamilyCreated)
def _family_created(event: RecordedEvent) -> Statement:
    return FAMILIES.upsert(
        {
            "family_id": aggregate_id(event),
            "tenant_id": tenant(event),
            "event_id": event.data["event_id"],
            "name": event.data["name"],
            "position": event.position,
        }
    )


@directory.on(people.FamilyRenamed)
def _family_renamed(event: RecordedEvent) -> Statement:
    return FAMILIES.update({"name": event.data["name"]}, where={"family_id": aggregate_id(event)})


@directory.on(people.FamilyDeleted)
def _family_deleted(event: RecordedEvent) -> Iterator[Statement]:
    # One transaction with the append: the family row and every member's link to it go
    # together, so no guest ever points at a family that is gone.
    family_id = aggregate_id(event)
    yield GUESTS.update({"family_id": None}, where={"family_id": family_id})
    yield FAMILIES.delete(where={"family_id": family_id})


@directory.on(people.GuestRegistered)
def _guest_registered(event: RecordedEvent) -> Statement:
    data = event.data
    return GUESTS.upsert(
        {
            "guest_id": aggregate_id(event),
            "tenant_id": tenant(event),
            "event_id": data["event_id"],
            "first_name": data["first_name"],
            "last_name": data["last_name"],
            "email": data.get("email"),
            "family_id": data.get("family_id"),
            "position": event.position,
        }
    )


@directory.on(people.GuestUpdated)
def _guest_updated(event: RecordedEvent) -> Statement:
    return GUESTS.update(event.data["changes"], where={"guest_id": aggregate_id(event)})


@directory.on(inv.InvitationIssued)
def _invitation_issued(event: RecordedEvent) -> Iterator[Statement]:
    invitation_id = aggregate_id(event)
    yield INVITATIONS.upsert(
        {
            "invitation_id": invitation_id,
            "tenant_id": tenant(event),
            "event_id": event.data["event_id"],
            "family_id": event.data.get("family_id"),
            "guest_ids": event.data["guest_ids"],
            "revoked": False,
        }
    )
    for guest_id in event.data["guest_ids"]:
        yield GUESTS.update({"invitation_id": invitation_id}, where={"guest_id": guest_id})


@directory.on(inv.InvitationRevoked)
def _invitation_revoked(event: RecordedEvent) -> Statement:
    return INVITATIONS.update(
        {
            "revoked": True,
            "revoked_reason": event.data["reason"],
            "revoked_position": event.position,
        },
        where={"invitation_id": aggregate_id(event)},
    )


@directory.on(people.GuestDeleted)
def _guest_deleted(event: RecordedEvent) -> Iterator[Statement]:
    yield GUESTS.delete(where={"guest_id": aggregate_id(event)})


@directory.on(inv.InvitationDeleted)
def _invitation_deleted(event: RecordedEvent) -> Iterator[Statement]:
    # With the row, every guest's link to it: no guest points at a code that is gone.
    invitation_id = aggregate_id(event)
    yield GUESTS.update({"invitation_id": None}, where={"invitation_id": invitation_id})
    yield INVITATIONS.delete(where={"invitation_id": invitation_id})


@directory.on(ev.EventDeleted)
def _event_deleted(event: RecordedEvent) -> Iterator[Statement]:
    # The whole event in the tombstone's transaction: nothing of it is half-removed.
    key = {"tenant_id": tenant(event), "event_id": aggregate_id(event)}
    yield GUESTS.delete(where=key)
    yield INVITATIONS.delete(where=key)
    yield FAMILIES.delete(where=key)
    yield EVENTS.delete(where=key)
