"""The event store: streams, versions, one global order, snapshots, checkpoints."""

from headwater.eventstore._factory import create_event_store
from headwater.eventstore._protocol import (
    EventFilter,
    EventStore,
    InlineHandler,
    Transaction,
)
from headwater.eventstore._records import (
    ANY,
    NO_STREAM,
    STREAM_EXISTS,
    AppendResult,
    ExpectedVersion,
    NewEvent,
    RecordedEvent,
    Snapshot,
    StreamState,
)
from headwater.eventstore._sql import Statement
from headwater.eventstore._timeouts import PostgresTimeouts

__all__ = [
    "ANY",
    "NO_STREAM",
    "STREAM_EXISTS",
    "AppendResult",
    "EventFilter",
    "EventStore",
    "ExpectedVersion",
    "InlineHandler",
    "NewEvent",
    "PostgresTimeouts",
    "RecordedEvent",
    "Snapshot",
    "Statement",
    "StreamState",
    "Transaction",
    "create_event_store",
]
