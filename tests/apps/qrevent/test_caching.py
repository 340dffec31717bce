"""Seed 002's cache policies on QR Event's reads: served from the cache, and a change
drops exactly the reads its projection's tables feed (on every backend)."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient

from apps.qrevent.caching import WRITES, tables_of
from apps.qrevent.projections import PROJECTIONS
from headwater.cache import Cache
from headwater.eventstore import RecordedEvent
from headwater.runtime import Runtime
from tests.apps.qrevent.support import Organizer

QUESTIONS = [
    {"question_id": "q1", "text": "2 + 2?", "choices": ["3", "4"], "answer": 1, "points": 10},
]


def _cache(client: TestClient) -> Cache:
    runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
    assert runtime.cache is not None
    return runtime.cache


def _hits(client: TestClient) -> int:
    return _cache(client).stats.l1_hits


def _twice(client: TestClient, org: Organizer, path: str) -> Any:
    """Read twice: the second read is a cache hit with the same answer."""
    first = org.data(org.get(path))
    before = _hits(client)
    again = org.data(org.get(path))
    assert _hits(client) == before + 1, f"{path} was not served from the cache"
    assert again == first
    return first


def test_event_details_and_lists_are_cached_and_an_edit_invalidates_them(
    client: TestClient, org: Organizer
) -> None:
    event_id = org.data(org.post("/api/events", {"name": "Mill party"}), 201)["event_id"]
    assert _twice(client, org, f"/api/events/{event_id}")["name"] == "Mill party"
    listed = _twice(client, org, "/api/events?total=true")
    assert [e["name"] for e in listed] == ["Mill party"]

    org.data(org.patch(f"/api/events/{event_id}", {"name": "Mill wedding"}))
    assert org.data(org.get(f"/api/events/{event_id}"))["name"] == "Mill wedding"
    assert [e["name"] for e in org.data(org.get("/api/events?total=true"))] == ["Mill wedding"]
    # A new event reaches the cached list too.
    org.data(org.post("/api/events", {"name": "Second"}), 201)
    page = org.get("/api/events?total=true").json()
    assert page["pagination"]["total"] == 2


def test_a_game_configuration_is_cached_until_it_changes(
    client: TestClient, org: Organizer
) -> None:
    event_id = org.live_event()
    body = {"title": "Quiz", "questions": QUESTIONS}
    game_id = org.data(org.post(f"/api/events/{event_id}/games", body), 201)["game_id"]
    assert _twice(client, org, f"/api/games/{game_id}")["status"] == "draft"
    org.data(org.post(f"/api/games/{game_id}/status", {"status": "open"}))
    assert org.data(org.get(f"/api/games/{game_id}"))["status"] == "open"


def test_dashboard_counts_are_cached_and_a_scan_invalidates_them(
    client: TestClient, org: Organizer
) -> None:
    event_id = org.live_event()
    guest = org.guest(event_id)
    invitation = org.invite(event_id, guest_id=guest)
    counts = _twice(client, org, f"/api/events/{event_id}/counts")
    assert counts["checked_in"] == 0
    scanned = org.scan(event_id, invitation["code"])
    assert scanned.status_code == 200, scanned.text
    assert org.data(org.get(f"/api/events/{event_id}/counts"))["checked_in"] == 1


def test_another_tenants_writes_leave_a_tenants_cache_alone(
    client: TestClient, org: Organizer, rival: Organizer
) -> None:
    event_id = org.data(org.post("/api/events", {"name": "Ours"}), 201)["event_id"]
    _twice(client, org, f"/api/events/{event_id}")
    rival.data(rival.post("/api/events", {"name": "Theirs"}), 201)
    before = _hits(client)
    org.data(org.get(f"/api/events/{event_id}"))
    assert _hits(client) == before + 1


def test_a_scan_leaves_the_cached_event_list_and_details_alone(
    client: TestClient, org: Organizer
) -> None:
    # A scan's events touch only the door's tables (counts, scans, presence): the
    # cached event list and details cannot change, so they stay served from the cache.
    event_id = org.live_event()
    invitation = org.invite(event_id, guest_id=org.guest(event_id))
    listed = _twice(client, org, "/api/events?total=true")
    details = _twice(client, org, f"/api/events/{event_id}")
    counts = _twice(client, org, f"/api/events/{event_id}/counts")
    scanned = org.scan(event_id, invitation["code"])
    assert scanned.status_code == 200, scanned.text
    before = _hits(client)
    assert org.data(org.get("/api/events?total=true")) == listed
    assert org.data(org.get(f"/api/events/{event_id}")) == details
    assert _hits(client) == before + 2
    # ...while the counts it does change are read afresh.
    assert org.data(org.get(f"/api/events/{event_id}/counts"))["checked_in"] == 1
    assert counts["checked_in"] == 0
    assert _hits(client) == before + 2


def test_each_narrowed_event_type_writes_only_the_tables_it_names(
    client: TestClient, org: Organizer
) -> None:
    # Every type in WRITES, recorded through the API, then projected again: each
    # statement its handlers emit may name only the tables WRITES gives for the type.
    event_id = org.live_event()
    org.data(org.patch(f"/api/events/{event_id}", {"name": "Mill wedding"}))
    family = org.data(org.post(f"/api/events/{event_id}/families", {"name": "Curie"}), 201)
    org.data(org.patch(f"/api/families/{family['family_id']}", {"name": "Curie-Sklodowska"}))
    guest = org.guest(event_id, family_id=family["family_id"])
    org.data(org.patch(f"/api/guests/{guest}", {"first_name": "Marie"}))
    invitation = org.invite(event_id, guest_id=guest)
    body = {"title": "Quiz", "questions": QUESTIONS}
    game_id = org.data(org.post(f"/api/events/{event_id}/games", body), 201)["game_id"]
    org.data(org.post(f"/api/games/{game_id}/status", {"status": "open"}))
    player = {"x-invitation": invitation["code"]}
    org.data(org.client.post(f"/api/games/{game_id}/join", headers=player))
    answer = {"question_id": "q1", "choice": 1}
    org.data(org.client.post(f"/api/games/{game_id}/play", json=answer, headers=player))
    revoke = {"reason": "lost"}
    org.data(org.post(f"/api/invitations/{invitation['invitation_id']}/revoke", revoke))
    gone = org.client.delete(f"/api/families/{family['family_id']}", headers=org.staff)
    assert gone.status_code == 204, gone.text

    runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]

    async def recorded() -> list[RecordedEvent]:
        return [e async for e in runtime.store.read_all(types=list(WRITES))]

    assert client.portal is not None
    events = client.portal.call(recorded)
    assert {e.type for e in events} == set(WRITES), "the flow must record every narrowed type"
    every = {t.name for p in PROJECTIONS for t in p.tables}
    for event in events:
        sql = " ".join(s.sql for p in PROJECTIONS for s in p.apply(event))
        written = {name for name in every if re.search(rf"\b{name}\b", sql)}
        assert written, event.type
        assert written <= tables_of([event.type]), (event.type, written)


def test_a_players_answer_leaves_the_cached_game_configuration_alone(
    client: TestClient, org: Organizer
) -> None:
    event_id = org.live_event()
    invitation = org.invite(event_id, guest_id=org.guest(event_id))
    body = {"title": "Quiz", "questions": QUESTIONS}
    game_id = org.data(org.post(f"/api/events/{event_id}/games", body), 201)["game_id"]
    org.data(org.post(f"/api/games/{game_id}/status", {"status": "open"}))
    config = _twice(client, org, f"/api/games/{game_id}")
    player = {"x-invitation": invitation["code"]}
    org.data(org.client.post(f"/api/games/{game_id}/join", headers=player))
    answer = {"question_id": "q1", "choice": 1}
    org.data(org.client.post(f"/api/games/{game_id}/play", json=answer, headers=player))
    before = _hits(client)
    assert org.data(org.get(f"/api/games/{game_id}")) == config
    assert _hits(client) == before + 1  # scores changed, the game's configuration did not
