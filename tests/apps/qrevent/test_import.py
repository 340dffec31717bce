"""CSV import: the good rows imported, the bad ones reported by row, nothing twice."""

from __future__ import annotations

import time
from typing import Any

from tests.apps.qrevent.support import Organizer

CSV = """first_name,last_name,email,family
Ada,Lovelace,ada@example.org,Byron
Annabella,Byron,,Byron
,Nameless,nobody@example.org,
Charles,Babbage,not-an-email,
Mary,Somerville,ada@example.org,
Grace,Hopper,grace@example.org,
"""


def _finished(org: Organizer, import_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        state: dict[str, Any] = org.data(org.get(f"/api/imports/{import_id}"))
        if state["status"] == "finished":
            return state
        time.sleep(0.05)
    raise AssertionError("the import did not finish")


def test_a_csv_with_bad_rows_imports_the_good_ones_and_reports_the_bad(org: Organizer) -> None:
    event_id = org.live_event()
    headers = {"Idempotency-Key": "import-1"}
    started = org.data(
        org.post(f"/api/events/{event_id}/imports", {"csv": CSV}, headers=headers), 202
    )
    assert (started["total"], started["accepted"]) == (6, 3)
    assert [(e["row"], e["errors"]) for e in started["errors"]] == [
        (4, ["first_name is missing"]),
        (5, ["email is not an address"]),
        (6, ["email appears on an earlier row"]),
    ]
    state = _finished(org, started["import_id"])
    assert state["done"] == 3
    # The same upload again (same key): the same import, nothing written twice.
    again = org.data(
        org.post(f"/api/events/{event_id}/imports", {"csv": CSV}, headers=headers), 202
    )
    assert again["import_id"] == started["import_id"]
    resumed = org.data(org.post(f"/api/imports/{started['import_id']}/resume"))
    assert resumed["status"] == "finished"
    guests = org.data(org.get(f"/api/events/{event_id}/guests?limit=100"))
    assert sorted(g["first_name"] for g in guests) == ["Ada", "Annabella", "Grace"]
    (family,) = org.data(org.get(f"/api/events/{event_id}/families"))
    assert family["name"] == "Byron"
    members = org.data(org.get(f"/api/families/{family['family_id']}"))["members"]
    assert sorted(m["first_name"] for m in members) == ["Ada", "Annabella"]


def test_a_csv_without_the_required_columns_is_refused_whole(org: Organizer) -> None:
    event_id = org.live_event()
    response = org.post(f"/api/events/{event_id}/imports", {"csv": "name,mail\nAda,a@b.c\n"})
    assert response.status_code == 400
    assert response.json()["error"]["details"]["missing"] == ["first_name", "last_name"]
