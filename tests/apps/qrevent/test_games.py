"""Games: one answer per question, rejoin, fair tie-breaks that survive a rebuild."""

from __future__ import annotations

import functools
import time
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from apps.qrevent.leaderboard import LEADERBOARD_JOB
from apps.qrevent.projections.games import games
from headwater.projections import rebuild
from tests.apps.qrevent.support import Organizer, make_app, organizer

QUESTIONS = [
    {"question_id": "q1", "text": "2 + 2?", "choices": ["3", "4"], "answer": 1, "points": 10},
    {"question_id": "q2", "text": "Capital of France?", "choices": ["Paris", "Rome"], "answer": 0},
]


def _open_game(org: Organizer, event_id: str) -> str:
    body = {"title": "Wedding quiz", "questions": QUESTIONS}
    game_id: str = org.data(org.post(f"/api/events/{event_id}/games", body), 201)["game_id"]
    org.data(org.post(f"/api/games/{game_id}/status", {"status": "open"}))
    return game_id


def _as_guest(code: str) -> dict[str, str]:
    return {"x-invitation": code}


def _play(org: Organizer, game_id: str, code: str, question: str, choice: int) -> Any:
    return org.client.post(
        f"/api/games/{game_id}/play",
        json={"question_id": question, "choice": choice},
        headers=_as_guest(code),
    )


def test_a_guest_joins_answers_once_and_rejoins_where_they_left(org: Organizer) -> None:
    event_id = org.live_event()
    code = org.invite(event_id, guest_id=org.guest(event_id, "Ada"))["code"]
    game_id = _open_game(org, event_id)
    home = org.data(org.client.get("/api/me", headers=_as_guest(code)))
    assert [g["game_id"] for g in home["games"]] == [game_id]
    assert "answer" not in home["games"][0]["questions"][0]
    state = org.data(org.client.post(f"/api/games/{game_id}/join", headers=_as_guest(code)))
    assert state["next_question"]["question_id"] == "q1"
    first = org.data(_play(org, game_id, code, "q1", 1))
    assert (first["result"]["correct"], first["result"]["points"]) == (True, 10)
    # The same answer again (a retry) returns the first result; another answer is refused.
    assert org.data(_play(org, game_id, code, "q1", 1))["result"] == first["result"]
    refused = _play(org, game_id, code, "q1", 0)
    assert (refused.status_code, refused.json()["error"]["code"]) == (409, "already_answered")
    rejoined = org.data(org.client.post(f"/api/games/{game_id}/join", headers=_as_guest(code)))
    assert rejoined["answered"] == ["q1"]
    assert rejoined["next_question"]["question_id"] == "q2"
    assert rejoined["me"]["score"] == 10
    # A guest code reaches nothing of the staff's.
    assert org.client.get("/api/events", headers=_as_guest(code)).status_code == 401


def test_a_forged_or_revoked_code_cannot_play(org: Organizer) -> None:
    event_id = org.live_event()
    invitation = org.invite(event_id, guest_id=org.guest(event_id))
    game_id = _open_game(org, event_id)
    forged = invitation["code"][:-4] + "AAAA"
    response = org.client.post(f"/api/games/{game_id}/join", headers=_as_guest(forged))
    assert response.status_code == 401
    org.data(org.post(f"/api/invitations/{invitation['invitation_id']}/revoke", {}))
    response = org.client.post(f"/api/games/{game_id}/join", headers=_as_guest(invitation["code"]))
    assert response.status_code == 401


def test_leaderboard_ties_are_ordered_by_who_scored_first_and_survive_a_rebuild(
    client: TestClient, org: Organizer
) -> None:
    event_id = org.live_event()
    family = org.data(org.post(f"/api/events/{event_id}/families", {"name": "Bernoulli"}), 201)
    org.guest(event_id, "Jakob", "Bernoulli", family_id=family["family_id"])
    family_code = org.invite(event_id, family_id=family["family_id"])["code"]
    codes = [org.invite(event_id, guest_id=org.guest(event_id, f"P{n}"))["code"] for n in range(3)]
    game_id = _open_game(org, event_id)
    # P2 scores first, then the family, then P0; P1 answers wrong. Equal scores: the
    # earlier one ranks higher, whatever the names or ids.
    for code, choice in [(codes[2], 1), (family_code, 1), (codes[0], 1), (codes[1], 0)]:
        org.data(org.client.post(f"/api/games/{game_id}/join", headers=_as_guest(code)))
        org.data(_play(org, game_id, code, "q1", choice))
    board = org.data(org.get(f"/api/games/{game_id}/leaderboard"))
    names = [(e["rank"], e["name"], e["score"]) for e in board["top"]]
    assert names == [
        (1, "P2 L.", 10),
        (2, "Bernoulli family", 10),
        (3, "P0 L.", 10),
        (4, "P1 L.", 0),
    ]
    mine = org.data(
        org.client.get(f"/api/games/{game_id}/leaderboard", headers=_as_guest(codes[0]))
    )
    assert mine["me"]["rank"] == 3
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    assert client.portal is not None
    client.portal.call(rebuild, runtime.store, games)
    client.portal.call(runtime.require_cache().invalidate_tags, f"qe-leaderboard:{game_id}")
    again = org.data(org.get(f"/api/games/{game_id}/leaderboard"))
    assert again["top"] == board["top"]


def test_score_events_enqueue_one_leaderboard_job_that_runs(store_url: str, tmp_path: Path) -> None:
    with TestClient(make_app(store_url, tmp_path)) as client:
        org = organizer(client, "Job Co")
        event_id = org.live_event()
        code = org.invite(event_id, guest_id=org.guest(event_id))["code"]
        game_id = _open_game(org, event_id)
        org.data(org.client.post(f"/api/games/{game_id}/join", headers=_as_guest(code)))
        for question in ("q1", "q2"):
            org.data(_play(org, game_id, code, question, 0))
        queue = client.app.state.runtime.require_jobs()  # type: ignore[attr-defined]
        assert client.portal is not None
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            done = client.portal.call(
                functools.partial(queue.list_jobs, name=LEADERBOARD_JOB, state="succeeded")
            )
            if done:
                break
            time.sleep(0.05)
        assert done
        assert done[0].payload == {"game_id": game_id}
