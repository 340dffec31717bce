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
