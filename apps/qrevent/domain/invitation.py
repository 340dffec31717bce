"""An invitation: who it admits, whether it is revoked, and every scan of its QR code.

The invitation is the unit of consistency for the door: all scans of one code go
through this one stream, so the store's optimistic concurrency serialises two
doors scanning the same guest at the same instant. Whichever append lands first
admits; the other is decided again on the fresh state and becomes a double-entry
alert. That is the deterministic duplicate rule: *the log's order decides*, and no
scan is lost, since the loser is recorded with the first scan it collided with.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel

from apps.qrevent.domain.ids import InvitationId
from apps.qrevent.errors import NothingToUndo, UndoWindowPassed
from headwater.domain import Aggregate, Event, when

Direction = Literal["in", "out"]
Decision = Literal["admitted", "exited", "duplicate", "refused"]


class InvitationIssued(Event, type="qrevent.InvitationIssued"):
    event_id: str
    guest_ids: list[str]
    family_id: str | None = None


class InvitationRevoked(Event, type="qrevent.InvitationRevoked"):
    event_id: str
    reason: str


class InvitationDeleted(Event, type="qrevent.InvitationDeleted"):
    """A tombstone, always after a revocation: the code is refused, the row is gone."""

    event_id: str


class _Scan(Event):
    """What every scan event records: enough to audit it without anything else."""

    event_id: str
    scan_id: str
    gate: str
    device: str
    scanned_at: str  # the scanner's clock: offline scans keep their real time
    received_at: str  # the server's clock: what the undo window is measured against


class GuestsAdmitted(_Scan, type="qrevent.GuestsAdmitted"):
    guest_ids: list[str]
    #: The guests entering for the first time: only they move "checked in".
    first_time: list[str]


class GuestsExited(_Scan, type="qrevent.GuestsExited"):
    guest_ids: list[str]


class DoubleEntryDetected(_Scan, type="qrevent.DoubleEntryDetected"):
    """An alert: everyone this scan names is inside already (by ``first_scan_id``)."""

    guest_ids: list[str]
    first_scan_id: str
    first_gate: str
    first_scanned_at: str


class ScanRefused(_Scan, type="qrevent.ScanRefused"):
    reason: str


class ScanIdReused(_Scan, type="qrevent.ScanIdReused"):
    """A scanner sent a ``scan_id`` it had used before with another code or event.

    Recorded on both invitations involved (the first scan's and the one the new code
    names), so each audit trail shows the attempt; it changes nobody's presence.
    """

    reason: str
    #: The invitation on the other side of the collision ("" if the code named none).
    other_invitation_id: str


class ScanUndone(Event, type="qrevent.ScanUndone"):
    event_id: str
    scan_id: str
    #: Which device's scan (scan ids are per device); "" in events written before.
    device: str = ""
    direction: Direction
    gate: str
    guest_ids: list[str]
    first_time: list[str]
    undone_at: str


class ScanRecord(BaseModel):
    scan_id: str = ""
    direction: Direction
    gate: str
    device: str
    scanned_at: str
    received_at: str
    guest_ids: list[str]
    first_time: list[str]
    undone: bool = False


class ScanResult(BaseModel):
    """What a scanner is told; a repeat of the same ``scan_id`` gets the same answer."""

    scan_id: str
    invitation_id: str
    decision: Decision
    reason: str | None = None
    guest_ids: list[str] = []
    alert: bool = False
    first_scan_id: str | None = None


def scan_key(device: str, scan_id: str) -> str:
    """A scan's identity on an invitation: scan ids are chosen per device, so two
    devices may both send ``1``. (Device tokens hold no space, so the key is unambiguous.)"""
    return f"{device} {scan_id}"


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


# Snapshot version 2: scans are keyed by (device, scan id), no longer by scan id alone.
class Invitation(
    Aggregate[InvitationId], type_name="qrevent.Invitation", snapshot_every=50, snapshot_version=2
):
    event_id: str = ""
    guest_ids: list[str] = []
    family_id: str | None = None
    revoked: bool = False
    deleted: bool = False
    #: guest id → the key (``scan_key``) of the scan that let them in, while inside.
    inside: dict[str, str] = {}
    ever_in: list[str] = []
    #: scan_key → the scan.
    scans: dict[str, ScanRecord] = {}

    def issue(self, event_id: str, guest_ids: list[str], family_id: str | None) -> None:
        if not self.exists:
            self.record(
                InvitationIssued(event_id=event_id, guest_ids=guest_ids, family_id=family_id)
            )

    def revoke(self, reason: str) -> None:
        if not self.revoked:
            self.record(InvitationRevoked(event_id=self.event_id, reason=reason))

    def delete(self) -> None:
        """Revoke (so scanners that sync revocations refuse the code), then delete."""
        if self.deleted:
            return
        self.revoke("deleted")
        self.record(InvitationDeleted(event_id=self.event_id))

    def scan(
        self,
        *,
        scan_id: str,
        event_id: str,
        direction: Direction,
        gate: str,
        device: str,
        scanned_at: str | None,
        guest_ids: list[str] | None,
        refusal: str | None,
    ) -> ScanResult:
        received = now_iso()
        common = {
            "event_id": self.event_id,
            "scan_id": scan_id,
            "gate": gate,
            "device": device,
            "scanned_at": scanned_at or received,
            "received_at": received,
        }
        result = ScanResult(scan_id=scan_id, invitation_id=self.id.value, decision="refused")
        members = list(guest_ids) if guest_ids else list(self.guest_ids)
        reason = refusal
        if reason is None and event_id != self.event_id:
            reason = "wrong_event"
        if reason is None and self.revoked:
            reason = "revoked"
        if reason is None and any(g not in self.guest_ids for g in members):
            reason = "not_on_invitation"
        if reason is None and direction == "out" and not any(g in self.inside for g in members):
            reason = "not_inside"
        if reason is not None:
            self.record(ScanRefused(reason=reason, **common))
            return result.model_copy(update={"reason": reason})
        if direction == "out":
            leaving = [g for g in members if g in self.inside]
            self.record(GuestsExited(guest_ids=leaving, **common))
            return result.model_copy(update={"decision": "exited", "guest_ids": leaving})
        entering = [g for g in members if g not in self.inside]
        if not entering:
            first = self.scans[self.inside[members[0]]]
            first_id = first.scan_id
            self.record(
                DoubleEntryDetected(
                    guest_ids=members,
                    first_scan_id=first_id,
                    first_gate=first.gate,
                    first_scanned_at=first.scanned_at,
                    **common,
                )
            )
            return result.model_copy(
                update={
                    "decision": "duplicate",
                    "reason": "already_inside",
                    "guest_ids": members,
                    "alert": True,
                    "first_scan_id": first_id,
                }
            )
        first_time = [g for g in entering if g not in self.ever_in]
        self.record(GuestsAdmitted(guest_ids=entering, first_time=first_time, **common))
        return result.model_copy(update={"decision": "admitted", "guest_ids": entering})

    def note_reused_scan_id(
        self, *, scan_id: str, event_id: str, gate: str, device: str, other_invitation_id: str
    ) -> None:
        """Put a refused reuse of ``scan_id`` on this invitation's audit trail."""
        received = now_iso()
        self.record(
            ScanIdReused(
                event_id=event_id,
                scan_id=scan_id,
                gate=gate,
                device=device,
                scanned_at=received,
                received_at=received,
                reason="scan_id_reused",
                other_invitation_id=other_invitation_id,
            )
        )

    def undo(self, scan_id: str, device: str, window_seconds: int) -> str:
        key = scan_key(device, scan_id)
        scan = self.scans.get(key)
        if scan is None:
            raise NothingToUndo("this scan admitted or let out nobody", scan_id=scan_id)
        if scan.undone:
            return "undone"  # a repeated undo is the same undo
        # Only the latest scan of each guest can be undone: undoing an earlier one
        # would leave a later exit or entry standing on nothing.
        current = all(self.inside.get(g) == key for g in scan.guest_ids)
        if scan.direction == "out":
            current = all(
                g not in self.inside and self._last_scan(g) == key for g in scan.guest_ids
            )
        if not current:
            raise NothingToUndo("a later scan of the same guests stands", scan_id=scan_id)
        age = datetime.now(UTC) - datetime.fromisoformat(scan.received_at)
        if age.total_seconds() > window_seconds:
            raise UndoWindowPassed(f"scans can be undone within {window_seconds}s", scan_id=scan_id)
        self.record(
            ScanUndone(
                event_id=self.event_id,
                scan_id=scan_id,
                device=device,
                direction=scan.direction,
                gate=scan.gate,
                guest_ids=scan.guest_ids,
                first_time=scan.first_time,
                undone_at=now_iso(),
            )
        )
        return "undone"

    def _last_scan(self, guest_id: str) -> str | None:
        last = None
        for key, scan in self.scans.items():  # dicts keep the log's order
            if guest_id in scan.guest_ids and not scan.undone:
                last = key
        return last

    @when(InvitationIssued)
    def _issued(self, event: InvitationIssued) -> None:
        self.event_id = event.event_id
        self.guest_ids = list(event.guest_ids)
        self.family_id = event.family_id

    @when(InvitationRevoked)
    def _revoked(self, event: InvitationRevoked) -> None:
        self.revoked = True

    @when(InvitationDeleted)
    def _deleted(self, event: InvitationDeleted) -> None:
        self.deleted = True

    @when(GuestsAdmitted)
    def _admitted(self, event: GuestsAdmitted) -> None:
        key = scan_key(event.device, event.scan_id)
        self.inside = {**self.inside, **dict.fromkeys(event.guest_ids, key)}
        self.ever_in = [*self.ever_in, *event.first_time]
        self.scans = {**self.scans, key: _record(event, "in", event.first_time)}

    @when(GuestsExited)
    def _exited(self, event: GuestsExited) -> None:
        self.inside = {g: s for g, s in self.inside.items() if g not in event.guest_ids}
        key = scan_key(event.device, event.scan_id)
        self.scans = {**self.scans, key: _record(event, "out", [])}

    @when(DoubleEntryDetected)
    def _double(self, event: DoubleEntryDetected) -> None:
        pass  # an alert changes nobody's presence

    @when(ScanRefused)
    def _refused(self, event: ScanRefused) -> None:
        pass

    @when(ScanIdReused)
    def _reused(self, event: ScanIdReused) -> None:
        pass  # an audit entry only

    @when(ScanUndone)
    def _undone(self, event: ScanUndone) -> None:
        key = scan_key(event.device, event.scan_id)
        if not event.device:  # written before scans were keyed by device: find it by id
            key = next(k for k, s in self.scans.items() if s.scan_id == event.scan_id)
        scan = self.scans[key].model_copy(update={"undone": True})
        self.scans = {**self.scans, key: scan}
        if event.direction == "in":
            self.inside = {g: s for g, s in self.inside.items() if g not in event.guest_ids}
            self.ever_in = [g for g in self.ever_in if g not in event.first_time]
        else:
            restored = {}
            for guest in event.guest_ids:
                previous = self._last_admission(guest)
                if previous is not None:
                    restored[guest] = previous
            self.inside = {**self.inside, **restored}

    def _last_admission(self, guest_id: str) -> str | None:
        last = None
        for key, scan in self.scans.items():
            if scan.direction == "in" and guest_id in scan.guest_ids and not scan.undone:
                last = key
        return last


def _record(
    event: GuestsAdmitted | GuestsExited, direction: Direction, first: list[str]
) -> ScanRecord:
    return ScanRecord(
        scan_id=event.scan_id,
        direction=direction,
        gate=event.gate,
        device=event.device,
        scanned_at=event.scanned_at,
        received_at=event.received_at,
        guest_ids=list(event.guest_ids),
        first_time=list(first),
    )
