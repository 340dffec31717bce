"""The whole story of an event, from creation to closing, against real ``headwater serve``."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

from headwater.testing._server import serve
from tests.apps.qrevent.support import Organizer, organizer

REPO = str(Path(__file__).resolve().parents[3])
APPS = ["tests.http.routes.serve_app:module", "apps.qrevent.module:module"]
ENV = {
    "HEADWATER_AUTO_MIGRATE": "true",
    "HEADWATER_RATE_LIMITS": "false",
    "PYTHONPATH": os.pathsep.join(p for p in (REPO, os.environ.get("PYTHONPATH")) if p),
}


def _story(org: Organizer) -> None:
    body = {"name": "Company party", "gates": ["lobby"], "capacity": 50}
    event_id = org.data(org.post("/api/events", body, headers={"Idempotency-Key": "ev-1"}), 201)[
        "event_id"
    ]
    # A retried create with the same key makes no second event.
    org.data(org.post("/api/events", body, headers={"Idempotency-Key": "ev-1"}), 201)
    assert len(org.data(org.get("/api/events"))) == 1
    org.data(org.patch(f"/api/events/{event_id}", {"gates": ["lobby", "garden"]}))
    org.data(org.post(f"/api/events/{event_id}/status", {"status": "published"}))
    family = org.data(org.post(f"/api/events/{event_id}/families", {"name": "Lamarr"}), 201)
    hedy = org.guest(event_id, "Hedy", "Lamarr", family_id=family["family_id"])
    anthony = org.guest(event_id, "Anthony", "Loder", family_id=family["family_id"])
    solo = org.guest(event_id, "Alan", "Turing")
    family_code = org.invite(event_id, family_id=family["family_id"])["code"]
    solo_invitation = org.invite(event_id, guest_id=solo)
    # Not live yet: the door refuses, and says why.
    assert org.data(org.scan(event_id, family_code, gate="lobby"))["reason"] == "event_not_live"
    org.data(org.post(f"/api/events/{event_id}/status", {"status": "live"}))
    admitted = org.data(org.scan(event_id, family_code, gate="lobby", scan_id="lobby-1"))
    assert sorted(admitted["guest_ids"]) == sorted([hedy, anthony])
    assert org.data(org.scan(event_id, solo_invitation["code"], gate="garden"))["decision"] == (
        "admitted"
    )
    counts = org.counts(event_id)
    assert (counts["checked_in"], counts["inside"]) == (3, 3)
    # A mistaken scan is undone at once; the solo guest's invitation is then revoked.
    org.data(org.post(f"/api/events/{event_id}/scans/lobby-1/undo"))
    assert org.counts(event_id)["checked_in"] == 1
    org.data(org.post(f"/api/invitations/{solo_invitation['invitation_id']}/revoke", {}))
    org.data(org.post(f"/api/events/{event_id}/status", {"status": "closed"}))
    assert org.data(org.get(f"/api/events/{event_id}"))["status"] == "closed"
    after = org.data(org.scan(event_id, family_code, gate="lobby"))
    assert after["reason"] == "event_not_live"
    # A repeat of a scan made while live still gets its first decision.
    assert org.data(org.scan(event_id, family_code, gate="lobby", scan_id="lobby-1")) == admitted


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite-file", "postgres"], indirect=True)
def test_an_event_from_creation_to_closing_over_http(store_url: str, tmp_path: Path) -> None:
    with (
        serve(store_url, workdir=tmp_path, apps=APPS, env=ENV) as server,
        httpx.Client(base_url=server.url, timeout=30) as http,
    ):
        _story(organizer(http, "Story Events"))


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_two_doors_on_two_nodes_admit_a_guest_once(store_url: str, tmp_path: Path) -> None:
    """Each door talks to its own node; both scan the same family at the same instant."""
    from concurrent.futures import ThreadPoolExecutor

    with (
        serve(store_url, workdir=tmp_path, apps=APPS, env=ENV) as node_a,
        serve(store_url, workdir=tmp_path, apps=APPS, env=ENV) as node_b,
        httpx.Client(base_url=node_a.url, timeout=30) as http_a,
        httpx.Client(base_url=node_b.url, timeout=30) as http_b,
    ):
        org = organizer(http_a, "Two Nodes")
        event_id = org.live_event()
        family = org.data(org.post(f"/api/events/{event_id}/families", {"name": "Pascal"}), 201)
        for name in ("Blaise", "Jacqueline"):
            org.guest(event_id, name, "Pascal", family_id=family["family_id"])
        code = org.invite(event_id, family_id=family["family_id"])["code"]
        for round_ in range(5):  # several rounds: one lucky interleaving proves little
            if round_:
                org.data(org.scan(event_id, code, direction="out", scan_id=f"out-{round_}"))

            def door(http: httpx.Client, gate: str, n: int = round_) -> dict[str, object]:
                body = {"scan_id": f"{gate}-{n}", "code": code, "gate": gate}
                response = http.post(f"/api/events/{event_id}/scans", json=body, headers=org.door)
                assert response.status_code == 200, response.text
                data: dict[str, object] = response.json()["data"]
                return data

            with ThreadPoolExecutor(2) as pool:
                a = pool.submit(door, http_a, "north")
                b = pool.submit(door, http_b, "south")
                decisions = sorted(str(x.result()["decision"]) for x in (a, b))
            assert decisions == ["admitted", "duplicate"]
        counts = org.counts(event_id)
        assert (counts["checked_in"], counts["inside"], counts["alerts"]) == (2, 2, 5)
