"""The door's read models: every scan (the audit trail), live counts, who is inside.

Counts move only by the deltas the invitation's events carry, and each event is
applied exactly once (inline, in the append's transaction; a rebuild replays the
log into fresh tables), so a count can never be bumped twice for one entry.
"""

from __future__ import annotations

from collections.abc import Iterator

from apps.qrevent.domain import invitation as inv
from apps.qrevent.domain.event import EventDeleted
from apps.qrevent.projections._util import aggregate_id, tenant
from headwater.eventstore import RecordedEvent, Statement
from headwater.projections import BOOLEAN, INTEGER, JSON, TEXT, Column, Merge, Projection, Table

NULLABLE_TEXT = Column(TEXT, nullable=True)

SCANS = Table(
    "qe_scans",
    {
        "tenant_id": TEXT,
        "scan_id": TEXT,
        "invitation_id": TEXT,
        "event_id": TEXT,
        "decision": TEXT,
        "reason": NULLABLE_TEXT,
        "gate": TEXT,
        "device": TEXT,
        "scanned_at": TEXT,
        "received_at": TEXT,
        "guest_ids": JSON,
        "alert": Column(BOOLEAN, default=False),
        "undone": Column(BOOLEAN, default=False),
        #: "scan" for a scan's own row; "reuse" for a refused reuse of its scan id,
        #: which sits on both invitations' trails beside the scan it collided with.
        "kind": Column(TEXT, default="scan"),
        "position": INTEGER,
    },
    # One row per event: scan ids are chosen by each device, so neither the scan id
    # nor (scan id, device) is unique across the log, and a reuse needs its own row.
    primary_key=("tenant_id", "position"),
    indexes=[
        ("tenant_id", "invitation_id", "position"),
        ("tenant_id", "event_id", "position"),
        ("tenant_id", "event_id", "device", "scan_id"),
    ],
    tenant_column="tenant_id",
)
COUNTS = Table(
    "qe_counts",
    {
        "tenant_id": TEXT,
        "event_id": TEXT,
        "checked_in": Column(INTEGER, default=0),
        "inside": Column(INTEGER, default=0),
        "alerts": Column(INTEGER, default=0),
    },
    primary_key=("tenant_id", "event_id"),
    tenant_column="tenant_id",
)
GATE_COUNTS = Table(
    "qe_gate_counts",
    {
        "tenant_id": TEXT,
        "event_id": TEXT,
        "gate": TEXT,
        "admitted": Column(INTEGER, default=0),
        "exited": Column(INTEGER, default=0),
    },
    primary_key=("tenant_id", "event_id", "gate"),
    tenant_column="tenant_id",
)
PRESENCE = Table(
    "qe_presence",
    {
        "tenant_id": TEXT,
        "guest_id": TEXT,
        "event_id": TEXT,
        "inside": Column(BOOLEAN, default=False),
        "checked_in": Column(BOOLEAN, default=False),
    },
    primary_key=("tenant_id", "guest_id"),
    tenant_column="tenant_id",
)

checkin = Projection("qe_checkin", tables=[SCANS, COUNTS, GATE_COUNTS, PRESENCE], mode="inline")


def _scan_row(event: RecordedEvent, decision: str, **extra: object) -> Statement:
    data = event.data
    return SCANS.upsert(
        {
            "tenant_id": tenant(event),
            "scan_id": data["scan_id"],
            "invitation_id": aggregate_id(event),
            "event_id": data["event_id"],
            "decision": decision,
            "reason": data.get("reason"),
            "gate": data["gate"],
            "device": data["device"],
            "scanned_at": data["scanned_at"],
            "received_at": data["received_at"],
            "guest_ids": data.get("guest_ids", []),
            "position": event.position,
            **extra,
        }
    )


def _counts(event: RecordedEvent, **deltas: int) -> Statement:
    key = {"tenant_id": tenant(event), "event_id": event.data["event_id"]}
    return COUNTS.upsert({**key, **deltas}, merge=dict.fromkeys(deltas, Merge.ADD))


def _gate(event: RecordedEvent, **deltas: int) -> Statement:
    key = {"tenant_id": tenant(event), "event_id": event.data["event_id"]}
    return GATE_COUNTS.upsert(
        {**key, "gate": event.data["gate"], **deltas}, merge=dict.fromkeys(deltas, Merge.ADD)
    )


def _presence(event: RecordedEvent, guest_id: str, **values: bool) -> Statement:
    row = {"tenant_id": tenant(event), "guest_id": guest_id, "event_id": event.data["event_id"]}
    return PRESENCE.upsert({**row, **values})


@checkin.on(inv.GuestsAdmitted)
def _admitted(event: RecordedEvent) -> Iterator[Statement]:
    guests, first = event.data["guest_ids"], event.data["first_time"]
    yield _scan_row(event, "admitted")
    yield _counts(event, checked_in=len(first), inside=len(guests), alerts=0)
    yield _gate(event, admitted=len(guests), exited=0)
    for guest_id in guests:
        yield _presence(event, guest_id, inside=True, checked_in=True)


@checkin.on(inv.GuestsExited)
def _exited(event: RecordedEvent) -> Iterator[Statement]:
    guests = event.data["guest_ids"]
    yield _scan_row(event, "exited")
    yield _counts(event, checked_in=0, inside=-len(guests), alerts=0)
    yield _gate(event, admitted=0, exited=len(guests))
    for guest_id in guests:
        yield _presence(event, guest_id, inside=False, checked_in=True)


@checkin.on(inv.DoubleEntryDetected)
def _double(event: RecordedEvent) -> Iterator[Statement]:
    yield _scan_row(event, "duplicate", reason="already_inside", alert=True)
    yield _counts(event, checked_in=0, inside=0, alerts=1)


@checkin.on(inv.ScanRefused)
def _refused(event: RecordedEvent) -> Statement:
    return _scan_row(event, "refused")


@checkin.on(inv.ScanIdReused)
def _reused(event: RecordedEvent) -> Statement:
    return _scan_row(event, "refused", kind="reuse")


@checkin.on(inv.ScanUndone)
def _undone(event: RecordedEvent) -> Iterator[Statement]:
    data = event.data
    guests, first = data["guest_ids"], data["first_time"]
    where = {
        "tenant_id": tenant(event),
        "invitation_id": aggregate_id(event),
        "scan_id": data["scan_id"],
        "kind": "scan",
    }
    if data.get("device"):  # absent from undos written before scan ids were per device
        where["device"] = data["device"]
    yield SCANS.update({"undone": True}, where=where)
    if data["direction"] == "in":
        yield _counts(event, checked_in=-len(first), inside=-len(guests), alerts=0)
        yield _gate(event, admitted=-len(guests), exited=0)
        for guest_id in guests:
            yield _presence(event, guest_id, inside=False, checked_in=guest_id not in first)
    else:
        yield _counts(event, checked_in=0, inside=len(guests), alerts=0)
        yield _gate(event, admitted=0, exited=-len(guests))
        for guest_id in guests:
            yield _presence(event, guest_id, inside=True, checked_in=True)


@checkin.on(EventDeleted)
def _event_deleted(event: RecordedEvent) -> Iterator[Statement]:
    # Its scans, counts and who is inside go with the event.
    key = {"tenant_id": tenant(event), "event_id": aggregate_id(event)}
    for table in (SCANS, COUNTS, GATE_COUNTS, PRESENCE):
        yield table.delete(where=key)
