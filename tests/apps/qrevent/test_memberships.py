"""A staff member of two organizers sees each one's events only when acting in it,
through the app's lists, details and cached reads alike (on every backend)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.apps.qrevent.support import Organizer
from tests.security.support import bearer, root_headers


def _names(client: TestClient, headers: dict[str, str]) -> list[str]:
    response = client.get("/api/events", params={"total": "true"}, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["pagination"]["total"] == len(response.json()["data"])
    return sorted(e["name"] for e in response.json()["data"])


def test_a_member_of_two_tenants_sees_each_ones_events_only_when_acting_in_it(
    client: TestClient, org: Organizer, rival: Organizer
) -> None:
    ours = org.data(org.post("/api/events", {"name": "Ours"}), 201)["event_id"]
    theirs = rival.data(rival.post("/api/events", {"name": "Theirs"}), 201)["event_id"]
    granted = client.put(
        f"/admin/tenants/{rival.tenant.id}/members",
        json={"email": org.tenant.staff_email, "roles": ["staff"]},
        headers=root_headers(client),
    )
    assert granted.status_code == 200, granted.text
    home = org.staff

    # At home: the home tenant's events (warming its cache), none of the rival's.
    assert _names(client, home) == ["Ours"]
    assert client.get(f"/api/events/{ours}", headers=home).status_code == 200
    assert client.get(f"/api/events/{theirs}", headers=home).status_code == 404

    switched = client.post("/auth/switch-tenant", json={"tenant_id": rival.tenant.id}, headers=home)
    assert switched.status_code == 200, switched.text
    away = bearer(switched.json()["data"]["access_token"])
    # Acting in the rival: its events, none of the home tenant's, cached or not.
    assert _names(client, away) == ["Theirs"]
    assert client.get(f"/api/events/{theirs}", headers=away).status_code == 200
    assert client.get(f"/api/events/{ours}", headers=away).status_code == 404
    # What it writes there lands in the rival's tenant.
    made = client.post("/api/events", json={"name": "Made away"}, headers=away)
    assert made.status_code == 201, made.text
    assert _names(client, rival.staff) == ["Made away", "Theirs"]
    assert _names(client, home) == ["Ours"]
