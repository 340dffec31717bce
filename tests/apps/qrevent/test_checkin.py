"""Check-in: idempotent scans, offline batches, double entries, undo, family check-in."""

from __future__ import annotations

from tests.apps.qrevent.support import Organizer


def test_same_scan_three_times_admits_once_and_returns_the_first_decision(org: Organizer) -> None:
    event_id = org.live_event()
    guest_id = org.guest(event_id)
    code = org.invite(event_id, guest_id=guest_id)["code"]
    answers = [org.data(org.scan(event_id, code, scan_id="door-1:0001")) for _ in range(3)]
    assert answers[0]["decision"] == "admitted"
    assert answers[0] == answers[1] == answers[2]
    assert org.counts(event_id)["checked_in"] == 1
    assert org.counts(event_id)["inside"] == 1
    invitation_id = answers[0]["invitation_id"]
    audit = org.data(org.get(f"/api/invitations/{invitation_id}/audit"))
    assert [a["scan_id"] for a in audit] == ["door-1:0001"]
