"""Ordinary bad input gets a 4xx, never a 500 (cases found from outside)."""

from __future__ import annotations

from tests.apps.qrevent.support import Organizer


def test_a_revocation_sync_since_beyond_64_bits_is_refused_with_422(org: Organizer) -> None:
    event_id = org.live_event()
    for since in (2**63, 10**30):
        answer = org.get(f"/api/events/{event_id}/revocations", params={"since": since})
        assert answer.status_code == 422, answer.text
    assert org.get(f"/api/events/{event_id}/revocations", params={"since": 2**63 - 1}).is_success
