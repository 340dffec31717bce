"""Projections: read models kept current from the event log.

Declare tables and a projection, handle event types with pure functions that return
SQL statements, then run it inline (inside appends) or with a runner::

    users = Table("user_stats", {"user_id": TEXT, "forms": Column(INTEGER, default=0)},
                  primary_key="user_id")
    stats = Projection("user_stats", tables=[users])

    @stats.on("form.created")
    def _(event: RecordedEvent) -> Statement:
        return users.upsert({"user_id": event.data["owner"], "forms": 1},
                            merge={"forms": Merge.ADD})

    async with ProjectionRunner(store, stats) as runner:
        ...
"""

from headwater.errors import (
    InvalidCursor,
    InvalidReadModel,
    ProjectionFenced,
    RebuildInProgress,
    UnknownColumn,
    UnknownProjection,
    UnknownQuery,
)
from headwater.projections._applier import RetryPolicy
from headwater.projections._checkpoints import poison_events
from headwater.projections._columns import (
    BOOLEAN,
    DATE,
    INTEGER,
    JSON,
    REAL,
    TEXT,
    TIMESTAMP,
    Column,
    ColumnType,
    Index,
    Merge,
)
from headwater.projections._inline import InlineHandler, attach_inline
from headwater.projections._memory import MemoryView
from headwater.projections._projection import Projection, event_type_name
from headwater.projections._readmodels import Table, redirect_tables
from headwater.projections._runner import ProjectionRunner, ProjectionRunners, RunnerOptions
from headwater.projections._schema import migrate_projections
from headwater.projections._status import ProjectionState, ProjectionStatus, projection_status
from headwater.projections.rebuild import RebuildResult, rebuild

__all__ = [
    "BOOLEAN",
    "DATE",
    "INTEGER",
    "JSON",
    "REAL",
    "TEXT",
    "TIMESTAMP",
    "Column",
    "ColumnType",
    "Index",
    "InlineHandler",
    "InvalidCursor",
    "InvalidReadModel",
    "MemoryView",
    "Merge",
    "Projection",
    "ProjectionFenced",
    "ProjectionRunner",
    "ProjectionRunners",
    "ProjectionState",
    "ProjectionStatus",
    "RebuildInProgress",
    "RebuildResult",
    "RetryPolicy",
    "RunnerOptions",
    "Table",
    "UnknownColumn",
    "UnknownProjection",
    "UnknownQuery",
    "attach_inline",
    "event_type_name",
    "migrate_projections",
    "poison_events",
    "projection_status",
    "rebuild",
    "redirect_tables",
]
