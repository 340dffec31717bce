"""Small helpers shared by the projections."""

from __future__ import annotations

from headwater.eventstore import RecordedEvent


def aggregate_id(event: RecordedEvent) -> str:
    return event.stream_id.partition("-")[2]


def tenant(event: RecordedEvent) -> str:
    # Every QR Event command runs for a tenant; "" only for events written without one.
    return event.tenant_id or ""
