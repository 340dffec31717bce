"""Events, guests, families and invitations through the API: lists, search, QR images."""

from __future__ import annotations

from tests.apps.qrevent.support import Organizer


def test_event_lifecycle_refuses_going_back(org: Organizer) -> None:
    event_id = org.live_event()
    org.data(org.post(f"/api/events/{event_id}/status", {"status": "closed"}))
    back = org.post(f"/api/events/{event_id}/status", {"status": "live"})
    assert back.status_code == 409
    assert back.json()["error"]["code"] == "invalid_transition"
    edit = org.patch(f"/api/events/{event_id}", {"name": "Renamed"})
    assert edit.json()["error"]["code"] == "invalid_transition"


def test_guests_page_by_cursor_and_filter_by_search_and_family(org: Organizer) -> None:
    event_id = org.live_event()
    family = org.data(org.post(f"/api/events/{event_id}/families", {"name": "Noether"}), 201)
    for n in range(5):
        org.guest(event_id, f"Guest{n}", "Smith")
    emmy = org.guest(event_id, "Emmy", "Noether", family_id=family["family_id"])
    seen, cursor = [], None
    while True:
        query = "?limit=2" + (f"&cursor={cursor}" if cursor else "")
        body = org.get(f"/api/events/{event_id}/guests{query}").json()
        seen += [g["first_name"] for g in body["data"]]
        cursor = body["pagination"]["cursor"]
        if cursor is None:
            break
    assert seen == [f"Guest{n}" for n in range(5)] + ["Emmy"]
    found = org.data(org.get(f"/api/events/{event_id}/guests?q=noeth"))
    assert [g["guest_id"] for g in found] == [emmy]
    members = org.data(org.get(f"/api/events/{event_id}/guests?family_id={family['family_id']}"))
    assert [g["guest_id"] for g in members] == [emmy]
    bad = org.get(f"/api/events/{event_id}/guests?cursor=forged")
    assert bad.status_code == 400
    renamed = org.data(org.patch(f"/api/guests/{emmy}", {"first_name": "Amalie"}))
    assert renamed["first_name"] == "Amalie"


def test_invitation_qr_renders_as_png_and_svg_and_holds_no_personal_data(org: Organizer) -> None:
    event_id = org.live_event()
    guest_id = org.guest(event_id, "Grace", "Hopper")
    invitation = org.invite(event_id, guest_id=guest_id)
    assert "Grace" not in invitation["code"]
    assert guest_id not in invitation["code"]
    png = org.get(f"/api/invitations/{invitation['invitation_id']}/qr.png")
    assert png.headers["content-type"] == "image/png"
    assert png.content.startswith(b"\x89PNG")
    svg = org.get(f"/api/invitations/{invitation['invitation_id']}/qr.svg")
    assert svg.headers["content-type"].startswith("image/svg+xml")
    assert b"<svg" in svg.content
    keys = org.data(org.get("/api/qr/keys"))
    assert invitation["code"].split(".")[1] == keys[0]["key_id"]


def test_a_code_verifies_offline_with_the_published_public_key(org: Organizer) -> None:
    import base64

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    event_id = org.live_event()
    code = org.invite(event_id, guest_id=org.guest(event_id))["code"]
    (key,) = org.data(org.get("/api/qr/keys"))
    raw = base64.urlsafe_b64decode(key["public_key"] + "==")
    prefix, kid, payload, signature = code.split(".")
    public = Ed25519PublicKey.from_public_bytes(raw)
    public.verify(base64.urlsafe_b64decode(signature + "=="), f"{prefix}.{kid}.{payload}".encode())


def test_bad_input_gets_a_4xx_with_a_code_never_a_5xx(org: Organizer) -> None:
    event_id = org.live_event()
    cases = [
        org.post("/api/events", {"name": ""}),
        org.post("/api/events", {"name": "x", "surprise": 1}),
        org.post("/api/events", {"name": "x", "gates": []}),
        org.post(f"/api/events/{event_id}/status", {"status": "party"}),
        org.post(f"/api/events/{event_id}/guests", {"first_name": "A"}),
        org.post(f"/api/events/{event_id}/invitations", {}),
        org.post(f"/api/events/{event_id}/invitations", {"guest_id": "nope"}),
        org.post(f"/api/events/{event_id}/scans", {"scan_id": "a b", "code": "x", "gate": "n"}),
        org.post(
            f"/api/events/{event_id}/scans",
            {"scan_id": "a", "code": "x", "gate": "north", "scanned_at": "2026-01-01T00:00"},
        ),
        org.post(f"/api/events/{event_id}/scans/batch", {"scans": []}),
        org.post(f"/api/events/{event_id}/scans/unknown/undo"),
        org.get("/api/events/nope"),
        org.get("/api/invitations/nope/qr.gif"),
        org.get(f"/api/events/{event_id}/revocations?since=-1"),
    ]
    for response in cases:
        assert 400 <= response.status_code < 500, response.text
        assert response.json()["error"]["code"], response.text
    anonymous = org.client.get("/api/events")
    assert anonymous.status_code == 401
