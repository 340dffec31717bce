"""Actions: what the projections count, from captured events and from apps' own events.

An action is (tenant, subject, name, time in ms). Captured events (``analytics.captured``)
carry theirs. An app's business events become actions through :class:`EventSource`
declarations (e.g. FormEase's ``formease.SessionSubmitted`` -> ``form submitted``), read
off the log by the same projection: the app's command code does not change, and replay
gives the same actions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from headwater.eventstore._records import RecordedEvent

CAPTURED: Final = "analytics.captured"


@dataclass(frozen=True, slots=True)
class EventSource:
    """Turn the app's ``event_type`` into the action ``action``, for the subject in
    ``data[subject_field]`` (``"$stream"``: the event's stream id)."""

    event_type: str
    action: str
    subject_field: str = "$stream"


@dataclass(frozen=True, slots=True)
class Action:
    tenant_id: str
    subject: str
    name: str
    ts_ms: int
    position: int


def captured_action(event: RecordedEvent) -> Action | None:
    if event.tenant_id is None:
        return None
    data = event.data
    return Action(
        event.tenant_id, data["distinct_id"], data["event"], data["ts_ms"], event.position
    )


def source_actions(source: EventSource, event: RecordedEvent) -> list[Action]:
    """The event's actions: one, or one per subject when the field holds a list (a scan
    admitting a family is a check-in of each guest)."""
    tenant = event.tenant_id
    if tenant is None:
        return []
    if source.subject_field == "$stream":
        subjects: list[object] = [event.stream_id]
    else:
        value = event.data.get(source.subject_field)
        subjects = [] if value is None else list(value) if isinstance(value, list) else [value]
    ts_ms = int(event.recorded_at.timestamp() * 1000)
    return [Action(tenant, str(s), source.action, ts_ms, event.position) for s in subjects]
