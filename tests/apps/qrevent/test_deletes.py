"""Deletes in QR Event: a tombstone event, the rows gone, 404 everywhere afterwards."""

from __future__ import annotations

from tests.apps.qrevent.support import Organizer


def test_a_deleted_family_is_404_and_its_guests_stay_without_it(org: Organizer) -> None:
    event_id = org.live_event()
    family = org.data(org.post(f"/api/events/{event_id}/families", {"name": "Noether"}), 201)
    family_id = family["family_id"]
    emmy = org.guest(event_id, "Emmy", "Noether", family_id=family_id)

    deleted = org.client.delete(f"/api/families/{family_id}", headers=org.staff)

    assert deleted.status_code == 204, deleted.text
    assert org.get(f"/api/families/{family_id}").status_code == 404
    assert org.patch(f"/api/families/{family_id}", {"name": "X"}).status_code == 404
    again = org.client.delete(f"/api/families/{family_id}", headers=org.staff)
    assert again.status_code == 404
    assert again.json()["error"]["code"] == "not_found"
    listed = org.data(org.get(f"/api/events/{event_id}/families"))
    assert family_id not in [f["family_id"] for f in listed]
    members = org.data(org.get(f"/api/events/{event_id}/guests?family_id={family_id}"))
    assert members == []
    guest = org.data(org.get(f"/api/guests/{emmy}"))
    assert guest["family_id"] is None


def test_another_organizers_family_cannot_be_deleted(org: Organizer, rival: Organizer) -> None:
    event_id = org.live_event()
    family = org.data(org.post(f"/api/events/{event_id}/families", {"name": "Curie"}), 201)

    attempt = rival.client.delete(f"/api/families/{family['family_id']}", headers=rival.staff)

    assert attempt.status_code == 404
    assert org.data(org.get(f"/api/families/{family['family_id']}"))["name"] == "Curie"


def test_a_deleted_family_stays_deleted_after_a_rebuild_of_the_directory(
    org: Organizer,
) -> None:
    from apps.qrevent.projections.directory import FAMILIES, directory
    from headwater.projections import rebuild
    from headwater.runtime import Runtime

    event_id = org.live_event()
    kept = org.data(org.post(f"/api/events/{event_id}/families", {"name": "Kept"}), 201)
    gone = org.data(org.post(f"/api/events/{event_id}/families", {"name": "Gone"}), 201)
    assert (
        org.client.delete(f"/api/families/{gone['family_id']}", headers=org.staff).status_code
        == 204
    )
    runtime: Runtime = org.client.app.state.runtime  # type: ignore[attr-defined]

    async def rows_after_rebuild() -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
        live = [tuple(r) for r in await runtime.store.fetchall(FAMILIES.select_all_sql())]
        await rebuild(runtime.store, directory)
        rebuilt = [tuple(r) for r in await runtime.store.fetchall(FAMILIES.select_all_sql())]
        return live, rebuilt

    live, rebuilt = org.client.portal.call(rows_after_rebuild)  # type: ignore[union-attr]
    assert live == rebuilt
    assert [row[0] for row in live] == [kept["family_id"]]


def test_a_deleted_invitation_is_revoked_refused_at_the_door_and_404(org: Organizer) -> None:
    event_id = org.live_event()
    ada = org.guest(event_id, "Ada", "Lovelace")
    invitation = org.invite(event_id, guest_id=ada)
    invitation_id, code = invitation["invitation_id"], invitation["code"]

    deleted = org.client.delete(f"/api/invitations/{invitation_id}", headers=org.staff)

    assert deleted.status_code == 204, deleted.text
    assert org.get(f"/api/invitations/{invitation_id}").status_code == 404
    answer = org.data(org.scan(event_id, code))
    assert answer["decision"] == "refused"
    assert answer["reason"] == "unknown_invitation"
    assert org.data(org.get(f"/api/guests/{ada}"))["invitation_id"] is None
    again = org.client.delete(f"/api/invitations/{invitation_id}", headers=org.staff)
    assert again.status_code == 404
    assert again.json()["error"]["code"] == "not_found"
    # Its scan trail answers like the invitation: 404 everywhere once it is deleted.
    assert org.get(f"/api/invitations/{invitation_id}/audit").status_code == 404


def test_a_deleted_guest_leaves_the_lists_and_their_own_code_is_refused(org: Organizer) -> None:
    event_id = org.live_event()
    ada = org.guest(event_id, "Ada", "Lovelace")
    bob = org.guest(event_id, "Bob", "Byron")
    carol = org.guest(event_id, "Carol", "Byron")
    own_code = org.invite(event_id, guest_id=ada)["code"]
    family = org.data(org.post(f"/api/events/{event_id}/families", {"name": "Byron"}), 201)
    for guest_id in (bob, carol):
        org.data(org.patch(f"/api/guests/{guest_id}", {"family_id": family["family_id"]}))
    shared = org.invite(event_id, family_id=family["family_id"])

    assert org.client.delete(f"/api/guests/{ada}", headers=org.staff).status_code == 204
    assert org.client.delete(f"/api/guests/{bob}", headers=org.staff).status_code == 204

    assert org.get(f"/api/guests/{ada}").status_code == 404
    assert org.patch(f"/api/guests/{ada}", {"first_name": "X"}).status_code == 404
    listed = org.data(org.get(f"/api/events/{event_id}/guests"))
    assert [g["guest_id"] for g in listed] == [carol]
    refused = org.data(org.scan(event_id, own_code))
    assert refused["decision"] == "refused"
    # The family's code still admits Carol: it was not Bob's alone.
    assert org.get(f"/api/invitations/{shared['invitation_id']}").status_code == 200
    again = org.client.delete(f"/api/guests/{ada}", headers=org.staff)
    assert again.status_code == 404


def test_another_organizers_guest_and_invitation_cannot_be_deleted(
    org: Organizer, rival: Organizer
) -> None:
    event_id = org.live_event()
    ada = org.guest(event_id)
    invitation = org.invite(event_id, guest_id=ada)

    for path in (f"/api/guests/{ada}", f"/api/invitations/{invitation['invitation_id']}"):
        attempt = rival.client.delete(path, headers=rival.staff)
        assert attempt.status_code == 404
        assert org.get(path).status_code == 200
        assert org.client.delete(path).status_code == 401


QUESTIONS = [
    {"question_id": "q1", "text": "2 + 2?", "choices": ["3", "4"], "answer": 1, "points": 10},
]


def _played_game(org: Organizer, event_id: str, code: str) -> str:
    body = {"title": "Wedding quiz", "questions": QUESTIONS}
    game_id: str = org.data(org.post(f"/api/events/{event_id}/games", body), 201)["game_id"]
    org.data(org.post(f"/api/games/{game_id}/status", {"status": "open"}))
    guest = {"x-invitation": code}
    org.data(org.client.post(f"/api/games/{game_id}/join", headers=guest))
    played = org.client.post(
        f"/api/games/{game_id}/play", json={"question_id": "q1", "choice": 1}, headers=guest
    )
    assert played.status_code == 200, played.text
    return game_id


def test_a_deleted_game_and_its_leaderboard_are_404(org: Organizer) -> None:
    event_id = org.live_event()
    code = org.invite(event_id, guest_id=org.guest(event_id))["code"]
    game_id = _played_game(org, event_id, code)
    assert org.get(f"/api/games/{game_id}/leaderboard").status_code == 200

    assert org.client.delete(f"/api/games/{game_id}", headers=org.staff).status_code == 204

    assert org.get(f"/api/games/{game_id}/leaderboard").status_code == 404
    status = org.post(f"/api/games/{game_id}/status", {"status": "closed"})
    assert status.status_code == 404
    joined = org.client.post(f"/api/games/{game_id}/join", headers={"x-invitation": code})
    assert joined.status_code == 404
    assert org.client.delete(f"/api/games/{game_id}", headers=org.staff).status_code == 404


def test_a_deleted_event_takes_everything_of_it_and_leaves_other_events(org: Organizer) -> None:
    from apps.qrevent.projections.checkin import PRESENCE, SCANS
    from apps.qrevent.projections.directory import GUESTS, INVITATIONS
    from apps.qrevent.projections.games import SCORES
    from headwater.runtime import Runtime

    event_id, kept_event = org.live_event(), org.live_event()
    ada = org.guest(event_id, "Ada", "Deleteme")
    family = org.data(org.post(f"/api/events/{event_id}/families", {"name": "Deleteme"}), 201)
    invitation = org.invite(event_id, guest_id=ada)
    assert org.data(org.scan(event_id, invitation["code"]))["decision"] == "admitted"
    game_id = _played_game(org, event_id, invitation["code"])
    bob = org.guest(kept_event, "Bob", "Kept")
    kept_code = org.invite(kept_event, guest_id=bob)["code"]

    assert org.client.delete(f"/api/events/{event_id}", headers=org.staff).status_code == 204

    for path in (
        f"/api/events/{event_id}",
        f"/api/guests/{ada}",
        f"/api/families/{family['family_id']}",
        f"/api/invitations/{invitation['invitation_id']}",
        f"/api/games/{game_id}/leaderboard",
        f"/api/events/{event_id}/counts",
    ):
        assert org.get(path).status_code == 404, path
    listed = org.data(org.get("/api/events"))
    assert [e["event_id"] for e in listed] == [kept_event]
    assert org.scan(event_id, invitation["code"]).status_code == 404  # the door has no event
    assert org.data(org.scan(kept_event, kept_code))["decision"] == "admitted"
    assert org.client.delete(f"/api/events/{event_id}", headers=org.staff).status_code == 404

    runtime: Runtime = org.client.app.state.runtime  # type: ignore[attr-defined]

    async def left() -> list[int]:
        counts = []
        for table, column, value in (
            (GUESTS, "event_id", event_id),
            (INVITATIONS, "event_id", event_id),
            (SCANS, "event_id", event_id),
            (PRESENCE, "event_id", event_id),
            (SCORES, "game_id", game_id),
        ):
            row = await runtime.store.fetchone(
                f"SELECT COUNT(*) FROM {table.ref} WHERE {column} = ?", [value]
            )
            assert row is not None
            counts.append(int(row[0]))
        return counts

    assert org.client.portal.call(left) == [0, 0, 0, 0, 0]  # type: ignore[union-attr]


def test_the_event_tombstone_names_its_actor_and_a_rebuild_matches_the_live_rows(
    org: Organizer,
) -> None:
    from apps.qrevent.domain.ids import EventId
    from apps.qrevent.projections.checkin import checkin
    from apps.qrevent.projections.directory import EVENTS, GUESTS, INVITATIONS, directory
    from apps.qrevent.projections.games import GAMES, SCORES, games
    from headwater.projections import rebuild
    from headwater.runtime import Runtime

    gone, kept = org.live_event(), org.live_event()
    for event_id in (gone, kept):
        code = org.invite(event_id, guest_id=org.guest(event_id))["code"]
        org.data(org.scan(event_id, code))
        _played_game(org, event_id, code)
    staff_id = org.data(org.get("/auth/me"))["subject"]
    assert org.client.delete(f"/api/events/{gone}", headers=org.staff).status_code == 204
    runtime: Runtime = org.client.app.state.runtime  # type: ignore[attr-defined]
    tables = (EVENTS, GUESTS, INVITATIONS, GAMES, SCORES)

    async def check() -> tuple[object, object, object]:
        stream = runtime.store.read_stream(EventId(gone).stream_id, tenant_id=org.tenant.id)
        last = [e async for e in stream][-1]
        live = [await runtime.store.fetchall(t.select_all_sql()) for t in tables]
        for projection in (directory, games, checkin):
            await rebuild(runtime.store, projection)
        rebuilt = [await runtime.store.fetchall(t.select_all_sql()) for t in tables]
        return (last.type, last.metadata.get("actor")), live, rebuilt

    tombstone, live, rebuilt = org.client.portal.call(check)  # type: ignore[union-attr]
    assert tombstone == ("qrevent.EventDeleted", staff_id)
    assert live == rebuilt
    assert gone not in str(live)
    assert kept in str(live)
