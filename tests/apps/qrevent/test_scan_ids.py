"""Scan ids: scoped to the device and the event, bound to what was scanned.

The defect these guard against: a door device whose counter restarted sent
``dev:1`` again and was answered with the first ``dev:1``'s "admitted", for a
revoked code it had just read.
"""

from __future__ import annotations

from typing import Any

from tests.apps.qrevent.support import Organizer


def _audit(org: Organizer, invitation_id: str) -> list[dict[str, Any]]:
    trail: list[dict[str, Any]] = org.data(org.get(f"/api/invitations/{invitation_id}/audit"))
    return trail


def test_scan_id_reused_at_another_event_is_a_new_scan_decided_on_its_own_code(
    org: Organizer,
) -> None:
    monday = org.live_event()
    xavier = org.invite(monday, guest_id=org.guest(monday, "Xavier"))
    first = org.data(org.scan(monday, xavier["code"], scan_id="dev:1", device="door-a"))
    assert first["decision"] == "admitted"

    tuesday = org.live_event()
    yolanda = org.invite(tuesday, guest_id=org.guest(tuesday, "Yolanda"))
    org.data(org.post(f"/api/invitations/{yolanda['invitation_id']}/revoke", {"reason": "lost"}))
    answer = org.data(org.scan(tuesday, yolanda["code"], scan_id="dev:1", device="door-a"))

    assert answer["invitation_id"] == yolanda["invitation_id"]
    assert (answer["decision"], answer["reason"]) == ("refused", "revoked")
    assert [(s["scan_id"], s["reason"]) for s in _audit(org, yolanda["invitation_id"])] == [
        ("dev:1", "revoked")
    ]
    assert org.counts(tuesday)["checked_in"] == 0


def test_scan_id_reused_at_the_same_event_with_another_code_is_refused_and_audited_twice(
    org: Organizer,
) -> None:
    event_id = org.live_event()
    xavier = org.invite(event_id, guest_id=org.guest(event_id, "Xavier"))
    yolanda = org.invite(event_id, guest_id=org.guest(event_id, "Yolanda"))
    org.data(org.post(f"/api/invitations/{yolanda['invitation_id']}/revoke", {"reason": "lost"}))
    assert org.data(org.scan(event_id, xavier["code"], scan_id="dev:1"))["decision"] == "admitted"

    # The device restarted its counter: "dev:1" again, for a revoked code.
    for _ in range(2):  # a resend is refused the same way and noted once
        refused = org.scan(event_id, yolanda["code"], scan_id="dev:1")
        assert refused.status_code == 422, refused.text
        error = refused.json()["error"]
        assert error["code"] == "scan_id_reused"
        assert error["message"]

    xavier_trail = _audit(org, xavier["invitation_id"])
    assert [(s["decision"], s["reason"]) for s in xavier_trail] == [
        ("admitted", None),
        ("refused", "scan_id_reused"),
    ]
    assert [(s["decision"], s["reason"]) for s in _audit(org, yolanda["invitation_id"])] == [
        ("refused", "scan_id_reused")
    ]
    counts = org.counts(event_id)
    assert (counts["checked_in"], counts["inside"]) == (1, 1)
    # The first scan still answers as before: a true retry is not a reuse.
    again = org.data(org.scan(event_id, xavier["code"], scan_id="dev:1"))
    assert (again["decision"], again["invitation_id"]) == ("admitted", xavier["invitation_id"])


def test_the_same_scan_id_from_two_devices_is_two_scans_each_undone_on_its_own(
    org: Organizer,
) -> None:
    event_id = org.live_event()
    ada = org.invite(event_id, guest_id=org.guest(event_id, "Ada"))
    bob = org.invite(event_id, guest_id=org.guest(event_id, "Bob"))
    a = org.data(org.scan(event_id, ada["code"], scan_id="1", device="door-a"))
    b = org.data(org.scan(event_id, bob["code"], scan_id="1", device="door-b"))
    assert (a["decision"], b["decision"]) == ("admitted", "admitted")
    assert org.counts(event_id)["inside"] == 2

    undone = org.post(f"/api/events/{event_id}/scans/1/undo", params={"device": "door-b"})
    assert org.data(undone)["status"] == "undone"
    assert org.counts(event_id)["inside"] == 1
    assert [s["undone"] for s in _audit(org, ada["invitation_id"])] == [False]
    assert [s["undone"] for s in _audit(org, bob["invitation_id"])] == [True]
    # Without ?device= the scan id names two scans: the undo asks which.
    ambiguous = org.post(f"/api/events/{event_id}/scans/1/undo")
    assert ambiguous.status_code == 400
    assert ambiguous.json()["error"]["details"]["devices"] == ["door-a", "door-b"]
