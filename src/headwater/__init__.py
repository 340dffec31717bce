"""Headwater: a framework and server for event-sourced, real-time backends."""

from headwater.errors import (
    ConcurrencyError,
    DuplicateEventId,
    Forbidden,
    HeadwaterError,
    InvalidInput,
    NotFound,
    StoreUnavailable,
    StreamNotFound,
    TenantMismatch,
)
from headwater.eventstore import (
    ANY,
    NO_STREAM,
    STREAM_EXISTS,
    AppendResult,
    EventStore,
    NewEvent,
    RecordedEvent,
    Snapshot,
    Statement,
    create_event_store,
)
from headwater.settings import Settings

__version__ = "0.1.0"

__all__ = [
    "ANY",
    "NO_STREAM",
    "STREAM_EXISTS",
    "AppendResult",
    "ConcurrencyError",
    "DuplicateEventId",
    "EventStore",
    "Forbidden",
    "HeadwaterError",
    "InvalidInput",
    "NewEvent",
    "NotFound",
    "RecordedEvent",
    "Settings",
    "Snapshot",
    "Statement",
    "StoreUnavailable",
    "StreamNotFound",
    "TenantMismatch",
    "create_event_store",
]
