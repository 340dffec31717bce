"""Game suggestions on the guest page: learned from who joined what, only open games of
the guest's own event, with a reason."""

from __future__ import annotations

import time
from typing import Any

from tests.apps.qrevent.support import Organizer

QUESTIONS = [{"question_id": "q1", "text": "2 + 2?", "choices": ["3", "4"], "answer": 1}]


def _game(org: Organizer, event_id: str, title: str, status: str = "open") -> str:
    body = {"title": title, "questions": QUESTIONS}
    game_id: str = org.data(org.post(f"/api/events/{event_id}/games", body), 201)["game_id"]
    if status != "draft":
        org.data(org.post(f"/api/games/{game_id}/status", {"status": status}))
    return game_id


def _guest(org: Organizer, event_id: str, name: str) -> dict[str, str]:
    return {"x-invitation": org.invite(event_id, guest_id=org.guest(event_id, name))["code"]}


def _suggested(org: Organizer, guest: dict[str, str]) -> dict[str, Any]:
    data: dict[str, Any] = org.data(org.client.get("/api/me/suggested-games", headers=guest))
    return data


def test_guests_are_suggested_the_open_games_similar_guests_joined(
    org: Organizer, rival: Organizer
) -> None:
    event_id = org.live_event()
    quiz, bingo, trivia = (_game(org, event_id, t) for t in ("Quiz", "Bingo", "Trivia"))
    for name in ("Ada", "Bob"):
        guest = _guest(org, event_id, name)
        for game in (quiz, bingo):
            org.data(org.client.post(f"/api/games/{game}/join", headers=guest))
    org.data(org.client.post(f"/api/games/{trivia}/join", headers=_guest(org, event_id, "Cy")))
    newcomer = _guest(org, event_id, "Dee")
    org.data(org.client.post(f"/api/games/{quiz}/join", headers=newcomer))

    deadline = time.monotonic() + 10
    while True:
        found = _suggested(org, newcomer)
        if found["model"] == "item_item" or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert found["model"] == "item_item"
    assert found["games"][0] == {
        "game_id": bingo,
        "title": "Bingo",
        "reason": "players of Quiz also played this",
    }
    assert quiz not in {g["game_id"] for g in found["games"]}  # joined already

    # Closing a game takes it off the list; another tenant's guests learn nothing here.
    org.data(org.post(f"/api/games/{bingo}/status", {"status": "closed"}))
    assert bingo not in {g["game_id"] for g in _suggested(org, newcomer)["games"]}
    other = rival.live_event()
    _game(rival, other, "Elsewhere")
    assert _suggested(rival, _guest(rival, other, "Eve"))["games"] == []


def test_suggestions_need_a_guest_code(org: Organizer) -> None:
    assert org.client.get("/api/me/suggested-games").status_code == 401
