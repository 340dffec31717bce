"""The seed's per-endpoint limits, declared by the module, enforced with Retry-After."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from apps.qrevent.module import QrEventModule
from tests.apps.qrevent.support import make_app, organizer
from tests.apps.qrevent.test_games import QUESTIONS


def test_the_module_declares_the_seed_limits() -> None:
    limits = {e.route: (e.limit, e.burst, e.key) for e in QrEventModule().endpoint_limits()}
    guest = "header:X-Invitation"
    assert limits == {
        "GET /api/games/*/leaderboard": (30, 10, guest),
        "POST /api/games/*/play": (5, 2, guest),
        "GET /api/events": (100, 20, "caller"),
        "GET /api/me": (120, 30, guest),
        "POST /api/games/*/join": (30, 10, guest),
    }


def test_play_is_limited_to_a_burst_of_two(tmp_path: Path) -> None:
    app = make_app(f"sqlite:///{tmp_path / 'limits.db'}", tmp_path, rate_limits=True)
    with TestClient(app, raise_server_exceptions=False) as client:
        org = organizer(client, "Limited Co")
        event_id = org.live_event()
        code = org.invite(event_id, guest_id=org.guest(event_id))["code"]
        body = {"title": "Quiz", "questions": [*QUESTIONS, {**QUESTIONS[0], "question_id": "q3"}]}
        game_id = org.data(org.post(f"/api/events/{event_id}/games", body), 201)["game_id"]
        org.data(org.post(f"/api/games/{game_id}/status", {"status": "open"}))
        guest = {"x-invitation": code}
        org.data(client.post(f"/api/games/{game_id}/join", headers=guest))
        statuses = [
            client.post(
                f"/api/games/{game_id}/play",
                json={"question_id": q, "choice": 0},
                headers=guest,
            )
            for q in ("q1", "q2", "q3")
        ]
        assert [r.status_code for r in statuses] == [200, 200, 429]
        assert int(statuses[2].headers["retry-after"]) > 0
        assert statuses[2].json()["error"]["code"] == "rate_limited"


def test_three_guests_behind_one_address_play_as_three(tmp_path: Path) -> None:
    """One venue Wi-Fi, one address: each guest's invitation is their own counter."""
    app = make_app(f"sqlite:///{tmp_path / 'venue.db'}", tmp_path, rate_limits=True)
    with TestClient(app, raise_server_exceptions=False) as client:
        org = organizer(client, "Venue Co")
        event_id = org.live_event()
        codes = [org.invite(event_id, guest_id=org.guest(event_id))["code"] for _ in range(3)]
        game_id = org.data(
            org.post(f"/api/events/{event_id}/games", {"title": "Quiz", "questions": QUESTIONS}),
            201,
        )["game_id"]
        org.data(org.post(f"/api/games/{game_id}/status", {"status": "open"}))
        for code in codes:
            guest = {"x-invitation": code}
            org.data(client.post(f"/api/games/{game_id}/join", headers=guest))
            answer = {"question_id": "q1", "choice": 0}
            played = client.post(f"/api/games/{game_id}/play", json=answer, headers=guest)
            assert played.status_code == 200, played.text
