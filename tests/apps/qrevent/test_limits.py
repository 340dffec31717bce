"""The seed's per-endpoint limits, declared by the module, enforced with Retry-After."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from apps.qrevent.module import QrEventModule
from tests.apps.qrevent.support import make_app, organizer
from tests.apps.qrevent.test_games import QUESTIONS


def test_the_module_declares_the_seed_limits() -> None:
    limits = {e.route: (e.limit, e.burst) for e in QrEventModule().endpoint_limits()}
    assert limits == {
        "GET /api/games/*/leaderboard": (30, 10),
        "POST /api/games/*/play": (5, 2),
        "GET /api/events": (100, 20),
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
