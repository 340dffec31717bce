"""Headwater: a framework and server for event-sourced, real-time backends.

The core an app needs is importable from here: the log, the error tree's common
classes, identity, the write side, read models, and the node (``create_app``,
``Module``, ``Runtime``, ``Settings``). Web dependencies and the response envelope
are in ``headwater.http``; realtime topics in ``headwater.realtime``; jobs, caching,
rate limits and admin panels in their packages; test helpers in ``headwater.testing``.
README's "Public API" lists them.

Every name here is loaded lazily (see ``headwater._lazy``): this ``__init__`` runs on
any ``import headwater.x``, and must not drag FastAPI or the upper layers into a
process, or a cycle into the import graph, that only wanted the event store.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from headwater import _lazy

if TYPE_CHECKING:
    from headwater.app import (
        create_app,
    )
    from headwater.domain import (
        ESCALATE,
        LAST_WRITE_WINS,
        MERGE,
        REFUSE,
        Aggregate,
        AggregateId,
        Command,
        CommandBus,
        CommandContext,
        CommandResult,
        ConflictPolicy,
        Event,
        Repository,
        upcaster,
        when,
    )
    from headwater.errors import (
        ChangeEscalated,
        ConcurrencyError,
        DuplicateEventId,
        Forbidden,
        HeadwaterError,
        InvalidInput,
        LogRewound,
        MergeConflict,
        NotFound,
        StoreUnavailable,
        StreamNotFound,
        TenantMismatch,
        Unauthorized,
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
    from headwater.identity._principal import (
        Principal,
        Role,
    )
    from headwater.modules import (
        Module,
    )
    from headwater.observability import send_alert
    from headwater.projections import (
        BOOLEAN,
        DATE,
        INTEGER,
        JSON,
        REAL,
        TEXT,
        TIMESTAMP,
        Column,
        Index,
        Merge,
        Projection,
        ProjectionRunner,
        Table,
        attach_inline,
        migrate_projections,
        projection_status,
    )
    from headwater.runtime import (
        Runtime,
    )
    from headwater.settings import (
        Settings,
    )

__version__ = "0.1.0"

#: Public name -> the module that defines it. The one place to edit when a module moves.
_EXPORTS: Final[dict[str, str]] = {
    # the log
    "ANY": "headwater.eventstore",
    "NO_STREAM": "headwater.eventstore",
    "STREAM_EXISTS": "headwater.eventstore",
    "AppendResult": "headwater.eventstore",
    "EventStore": "headwater.eventstore",
    "NewEvent": "headwater.eventstore",
    "RecordedEvent": "headwater.eventstore",
    "Snapshot": "headwater.eventstore",
    "Statement": "headwater.eventstore",
    "create_event_store": "headwater.eventstore",
    # the error tree (all of it: ``headwater.errors``)
    "ChangeEscalated": "headwater.errors",
    "ConcurrencyError": "headwater.errors",
    "DuplicateEventId": "headwater.errors",
    "Forbidden": "headwater.errors",
    "HeadwaterError": "headwater.errors",
    "InvalidInput": "headwater.errors",
    "LogRewound": "headwater.errors",
    "MergeConflict": "headwater.errors",
    "NotFound": "headwater.errors",
    "StoreUnavailable": "headwater.errors",
    "StreamNotFound": "headwater.errors",
    "TenantMismatch": "headwater.errors",
    "Unauthorized": "headwater.errors",
    # identity: who is calling
    "Principal": "headwater.identity._principal",
    "Role": "headwater.identity._principal",
    # the write side
    "ESCALATE": "headwater.domain",
    "LAST_WRITE_WINS": "headwater.domain",
    "MERGE": "headwater.domain",
    "REFUSE": "headwater.domain",
    "Aggregate": "headwater.domain",
    "AggregateId": "headwater.domain",
    "Command": "headwater.domain",
    "CommandBus": "headwater.domain",
    "CommandContext": "headwater.domain",
    "CommandResult": "headwater.domain",
    "ConflictPolicy": "headwater.domain",
    "Event": "headwater.domain",
    "Repository": "headwater.domain",
    "upcaster": "headwater.domain",
    "when": "headwater.domain",
    # read models
    "BOOLEAN": "headwater.projections",
    "DATE": "headwater.projections",
    "INTEGER": "headwater.projections",
    "JSON": "headwater.projections",
    "REAL": "headwater.projections",
    "TEXT": "headwater.projections",
    "TIMESTAMP": "headwater.projections",
    "Column": "headwater.projections",
    "Index": "headwater.projections",
    "Merge": "headwater.projections",
    "Projection": "headwater.projections",
    "ProjectionRunner": "headwater.projections",
    "Table": "headwater.projections",
    "attach_inline": "headwater.projections",
    "migrate_projections": "headwater.projections",
    "projection_status": "headwater.projections",
    # the node, and what plugs into it
    "Module": "headwater.modules",
    "Runtime": "headwater.runtime",
    "Settings": "headwater.settings",
    "create_app": "headwater.app",
    # app code raising its own alert
    "send_alert": "headwater.observability",
}

__all__ = [
    "ANY",
    "BOOLEAN",
    "DATE",
    "ESCALATE",
    "INTEGER",
    "JSON",
    "LAST_WRITE_WINS",
    "MERGE",
    "NO_STREAM",
    "REAL",
    "REFUSE",
    "STREAM_EXISTS",
    "TEXT",
    "TIMESTAMP",
    "Aggregate",
    "AggregateId",
    "AppendResult",
    "ChangeEscalated",
    "Column",
    "Command",
    "CommandBus",
    "CommandContext",
    "CommandResult",
    "ConcurrencyError",
    "ConflictPolicy",
    "DuplicateEventId",
    "Event",
    "EventStore",
    "Forbidden",
    "HeadwaterError",
    "Index",
    "InvalidInput",
    "LogRewound",
    "Merge",
    "MergeConflict",
    "Module",
    "NewEvent",
    "NotFound",
    "Principal",
    "Projection",
    "ProjectionRunner",
    "RecordedEvent",
    "Repository",
    "Role",
    "Runtime",
    "Settings",
    "Snapshot",
    "Statement",
    "StoreUnavailable",
    "StreamNotFound",
    "Table",
    "TenantMismatch",
    "Unauthorized",
    "attach_inline",
    "create_app",
    "create_event_store",
    "migrate_projections",
    "projection_status",
    "send_alert",
    "upcaster",
    "when",
]


def __getattr__(name: str) -> Any:
    return _lazy.load(__name__, _EXPORTS, name)


def __dir__() -> list[str]:
    return _lazy.names(__name__, _EXPORTS)
