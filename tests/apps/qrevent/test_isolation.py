"""Another organizer, with real credentials, finds nothing of this one's on any route."""

from __future__ import annotations

from fastapi.testclient import TestClient

from headwater.testing._tenancy import Victim, probe_tenant_isolation
from tests.apps.qrevent.support import Organizer
from tests.apps.qrevent.test_games import QUESTIONS


def test_no_qrevent_route_answers_another_organizer(
    client: TestClient, org: Organizer, rival: Organizer
) -> None:
    event_id = org.live_event()
    family = org.data(org.post(f"/api/events/{event_id}/families", {"name": "Secretfamily"}), 201)
    guest_id = org.guest(event_id, "Secretname", "Victim", family_id=family["family_id"])
    invitation = org.invite(event_id, guest_id=guest_id)
    org.data(org.scan(event_id, invitation["code"], scan_id="victim-scan"))
    quiz = {"title": "Secretquiz", "questions": QUESTIONS}
    game_id = org.data(org.post(f"/api/events/{event_id}/games", quiz), 201)["game_id"]
    org.data(org.post(f"/api/games/{game_id}/status", {"status": "open"}))
    display = org.data(org.post(f"/api/events/{event_id}/displays", {"game_id": game_id}), 201)
    csv = {"csv": "first_name,last_name\nSecretimport,Victim\n"}
    import_id = org.data(org.post(f"/api/events/{event_id}/imports", csv), 202)["import_id"]
    rival_event = rival.live_event()
    rival_code = rival.invite(rival_event, guest_id=rival.guest(rival_event))["code"]
    paths = client.get("/openapi.json").json()["paths"]
    skip = {
        (method.upper(), path): "not a QR Event route"
        for path, item in paths.items()
        if not path.startswith("/api/")
        for method in item
    }
    victim = Victim(
        ids={
            "event_id": event_id,
            "guest_id": guest_id,
            "family_id": family["family_id"],
            "invitation_id": invitation["invitation_id"],
            "scan_id": "victim-scan",
            "fmt": "png",
            "game_id": game_id,
            "import_id": import_id,
            "display_id": display["display_id"],
        },
        markers=["Secretname", "Secretfamily", "Secretquiz", "Secretimport", invitation["code"]],
    )
    # Another organizer's staff, then another organizer's guest (by their own valid code).
    for attacker in (rival.staff, {"x-invitation": rival_code}):
        report = probe_tenant_isolation(
            client, attacker=lambda a=attacker: a, victim=victim, skip=skip
        )
        report.assert_isolated()
        assert len(report.results) >= 30
