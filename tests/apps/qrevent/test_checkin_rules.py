"""The door's rules: forged, tampered and revoked codes; offline batches; undo; families."""

from __future__ import annotations

import base64
import time
from concurrent.futures import ThreadPoolExecutor

import orjson

from tests.apps.qrevent.support import Organizer


def _tamper_payload(code: str, invitation_id: str) -> str:
    prefix, kid, _payload, signature = code.split(".")
    payload = base64.urlsafe_b64encode(orjson.dumps({"e": "x", "i": invitation_id}))
    return f"{prefix}.{kid}.{payload.rstrip(b'=').decode()}.{signature}"


def test_forged_tampered_and_revoked_codes_are_refused_with_their_reason(
    org: Organizer, rival: Organizer
) -> None:
    event_id = org.live_event()
    first, second = org.guest(event_id), org.guest(event_id, "Bob")
    good = org.invite(event_id, guest_id=first)
    other = org.invite(event_id, guest_id=second)
    # Tampered: the payload now names another invitation; the signature no longer fits.
    tampered = _tamper_payload(good["code"], other["invitation_id"])
    assert org.data(org.scan(event_id, tampered))["reason"] == "bad_signature"
    # Forged: well-formed, signed by another organizer's key.
    rival_event = rival.live_event()
    forged = rival.invite(rival_event, guest_id=rival.guest(rival_event))["code"]
    assert org.data(org.scan(event_id, forged))["reason"] == "unknown_key"
    assert org.data(org.scan(event_id, "not a code"))["reason"] == "malformed"
    # Forged: one of this organizer's invitation ids, under a key id nobody issued.
    prefix, _kid, payload, signature = other["code"].split(".")
    assert (
        org.data(org.scan(event_id, f"{prefix}.k1-0000.{payload}.{signature}"))["reason"]
        == "unknown_key"
    )
    # Revoked: refused at the door, and the scanners' sync list names it.
    org.data(org.post(f"/api/invitations/{good['invitation_id']}/revoke", {"reason": "lost"}))
    refused = org.data(org.scan(event_id, good["code"]))
    assert (refused["decision"], refused["reason"]) == ("refused", "revoked")
    sync = org.data(org.get(f"/api/events/{event_id}/revocations"))
    assert sync["revoked"] == [good["invitation_id"]]
    assert (
        org.data(org.get(f"/api/events/{event_id}/revocations?since={sync['position']}"))["revoked"]
        == []
    )
    # Every refusal that names one of the organizer's invitations is in its audit trail.
    audit = org.data(org.get(f"/api/invitations/{other['invitation_id']}/audit"))
    assert [(a["decision"], a["reason"]) for a in audit] == [
        ("refused", "bad_signature"),
        ("refused", "unknown_key"),
    ]
    audit = org.data(org.get(f"/api/invitations/{good['invitation_id']}/audit"))
    assert [(a["decision"], a["reason"]) for a in audit] == [("refused", "revoked")]
    assert org.counts(event_id)["checked_in"] == 0


def test_the_same_offline_batch_uploaded_twice_changes_nothing_the_second_time(
    org: Organizer,
) -> None:
    event_id = org.live_event()
    codes = [org.invite(event_id, guest_id=org.guest(event_id, f"G{n}"))["code"] for n in range(4)]
    scans = [
        {
            "scan_id": f"offline-7:{n}",
            "code": code,
            "gate": "south",
            "device": "tablet-7",
            "scanned_at": f"2026-06-01T18:0{n}:00+00:00",
        }
        for n, code in enumerate(codes)
    ]
    scans.append({**scans[0], "scan_id": "offline-7:9", "scanned_at": "2026-06-01T18:09:00Z"})
    path = f"/api/events/{event_id}/scans/batch"
    first = org.data(org.client.post(path, json={"scans": scans}, headers=org.door))
    counts = org.counts(event_id)
    again = org.data(org.client.post(path, json={"scans": scans}, headers=org.door))
    assert first == again
    assert [r["decision"] for r in first] == ["admitted"] * 4 + ["duplicate"]
    assert org.counts(event_id) == counts
    assert counts["checked_in"] == 4
    assert counts["alerts"] == 1
    assert {g["gate"]: g["admitted"] for g in counts["gates"]} == {"north": 0, "south": 4}
    audit = org.data(org.get(f"/api/invitations/{first[0]['invitation_id']}/audit"))
    # The offline scan keeps its real time and device.
    assert audit[0]["scanned_at"].startswith("2026-06-01T18:00:00")
    assert audit[0]["device"] == "tablet-7"


def test_two_doors_scanning_one_guest_at_once_admit_once_and_raise_one_alert(
    org: Organizer,
) -> None:
    event_id = org.live_event()
    code = org.invite(event_id, guest_id=org.guest(event_id))["code"]
    with ThreadPoolExecutor(2) as pool:
        answers = list(
            pool.map(
                lambda gate: org.data(org.scan(event_id, code, gate=gate, scan_id=f"{gate}-1")),
                ["north", "south"],
            )
        )
    assert sorted(a["decision"] for a in answers) == ["admitted", "duplicate"]
    counts = org.counts(event_id)
    assert (counts["checked_in"], counts["inside"], counts["alerts"]) == (1, 1, 1)
    alerts = org.data(org.get(f"/api/events/{event_id}/alerts"))
    assert len(alerts) == 1
    assert alerts[0]["reason"] == "already_inside"


def test_undo_within_the_window_reverses_the_entry(org: Organizer) -> None:
    event_id = org.live_event()
    code = org.invite(event_id, guest_id=org.guest(event_id))["code"]
    org.data(org.scan(event_id, code, scan_id="s-1"))
    undone = org.data(org.post(f"/api/events/{event_id}/scans/s-1/undo"))
    assert undone["status"] == "undone"
    counts = org.counts(event_id)
    assert (counts["checked_in"], counts["inside"]) == (0, 0)
    # Undoing twice is the same undo; scanning again admits again.
    assert org.data(org.post(f"/api/events/{event_id}/scans/s-1/undo"))["status"] == "undone"
    assert org.data(org.scan(event_id, code, scan_id="s-2"))["decision"] == "admitted"
    assert org.counts(event_id)["checked_in"] == 1


def test_undo_after_the_window_is_refused(org: Organizer) -> None:
    event_id = org.live_event(undo=1)
    code = org.invite(event_id, guest_id=org.guest(event_id))["code"]
    org.data(org.scan(event_id, code, scan_id="late-1"))
    time.sleep(1.2)
    response = org.post(f"/api/events/{event_id}/scans/late-1/undo")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "undo_window_passed"
    assert org.counts(event_id)["inside"] == 1


def test_a_family_checks_in_with_one_scan_and_counts_each_member_once(org: Organizer) -> None:
    event_id = org.live_event()
    family = org.data(org.post(f"/api/events/{event_id}/families", {"name": "Curie"}), 201)
    members = [
        org.guest(event_id, name, "Curie", family_id=family["family_id"])
        for name in ("Marie", "Pierre", "Irene")
    ]
    invitation = org.invite(event_id, family_id=family["family_id"])
    assert sorted(invitation["guest_ids"]) == sorted(members)
    # Irene arrives first, alone; then the rest of the family on the same code.
    irene = org.data(org.scan(event_id, invitation["code"], guest_ids=[members[2]]))
    assert irene["guest_ids"] == [members[2]]
    rest = org.data(org.scan(event_id, invitation["code"]))
    assert (rest["decision"], sorted(rest["guest_ids"])) == ("admitted", sorted(members[:2]))
    again = org.data(org.scan(event_id, invitation["code"]))
    assert again["decision"] == "duplicate"
    assert again["alert"] is True
    counts = org.counts(event_id)
    assert (counts["checked_in"], counts["inside"]) == (3, 3)
    # Pierre steps out and back in: inside dips, checked in never moves.
    out = org.data(org.scan(event_id, invitation["code"], direction="out", guest_ids=[members[1]]))
    assert out["decision"] == "exited"
    assert org.counts(event_id)["inside"] == 2
    back = org.data(org.scan(event_id, invitation["code"], guest_ids=[members[1]]))
    assert back["decision"] == "admitted"
    counts = org.counts(event_id)
    assert (counts["checked_in"], counts["inside"]) == (3, 3)


def test_scans_at_an_event_that_is_not_live_are_refused_and_recorded(org: Organizer) -> None:
    event_id = org.data(org.post("/api/events", {"name": "Later"}), 201)["event_id"]
    invitation = org.invite(event_id, guest_id=org.guest(event_id))
    answer = org.data(org.scan(event_id, invitation["code"], gate="main"))
    assert answer["reason"] == "event_not_live"
    audit = org.data(org.get(f"/api/invitations/{invitation['invitation_id']}/audit"))
    assert audit[0]["reason"] == "event_not_live"
    wrong_gate = org.scan(event_id, invitation["code"], gate="back-door")
    assert wrong_gate.status_code == 400
    assert wrong_gate.json()["error"]["code"] == "unknown_gate"
