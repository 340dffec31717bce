"""What the door and the guest page need to show people: names, party size, own QR."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.apps.qrevent.support import Organizer


def test_a_scan_answers_with_the_family_name_and_party_size(org: Organizer) -> None:
    event_id = org.live_event()
    family = org.data(org.post(f"/api/events/{event_id}/families", {"name": "Curie"}), 201)
    for name in ("Marie", "Pierre", "Irene"):
        org.guest(event_id, name, "Curie", family_id=family["family_id"])
    code = org.invite(event_id, family_id=family["family_id"])["code"]
    admitted = org.data(org.scan(event_id, code))
    assert (admitted["decision"], admitted["name"], admitted["party_size"]) == (
        "admitted",
        "Curie",
        3,
    )
    again = org.data(org.scan(event_id, code))
    assert (again["decision"], again["name"]) == ("duplicate", "Curie")


def test_a_single_guest_is_named_and_a_bad_code_names_nobody(org: Organizer) -> None:
    event_id = org.live_event()
    code = org.invite(event_id, guest_id=org.guest(event_id, "Ada", "Lovelace"))["code"]
    admitted = org.data(org.scan(event_id, code))
    assert (admitted["name"], admitted["party_size"]) == ("Ada Lovelace", 1)
    refused = org.data(org.scan(event_id, "garbage"))
    assert refused["decision"] == "refused"
    assert (refused["name"], refused["party_size"]) == (None, 0)


def test_an_offline_batch_answers_with_names_too(org: Organizer) -> None:
    event_id = org.live_event()
    code = org.invite(event_id, guest_id=org.guest(event_id, "Grace", "Hopper"))["code"]
    body = {"scans": [{"scan_id": "b1", "code": code, "gate": "north"}]}
    results = org.data(
        org.client.post(f"/api/events/{event_id}/scans/batch", json=body, headers=org.door)
    )
    assert [(r["decision"], r["name"]) for r in results] == [("admitted", "Grace Hopper")]


def test_a_guest_gets_their_own_invitation_as_a_qr_svg(org: Organizer, client: TestClient) -> None:
    event_id = org.live_event()
    code = org.invite(event_id, guest_id=org.guest(event_id))["code"]
    response = client.get("/api/me/qr.svg", headers={"x-invitation": code})
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/svg+xml"
    assert response.text.lstrip().startswith(("<?xml", "<svg"))
    assert client.get("/api/me/qr.svg").status_code == 401
    assert client.get("/api/me/qr.svg", headers={"x-invitation": "forged"}).status_code == 401
