"""Monthly plan usage: the read model that keeps submissions within the owner's plan.

A submission is appended to its own session's stream (no stream shared by the
owner's respondents, so no contention between them) and carries the plan's monthly
limit as it stood. This inline projection counts it in ``fe_plan_usage`` inside the
append's own transaction, and the count cannot pass the limit: the upsert writes
NULL once ``submissions`` has reached it, the column is NOT NULL, and the violation
fails that append alone (each append runs under its own savepoint), which the
service reports as ``plan_limit_reached``. The check and the commit are one
transaction, and appends serialise on the store's writer (SQLite's one writer;
PostgreSQL's ``hw_head`` row lock, held to COMMIT, across every node), so two
submissions can never both take the last place: the limit is exact.
"""

from __future__ import annotations

from typing import Final

from apps.formease.domain.sessions import SubmissionReceived
from headwater.errors import InlineHandlerFailed
from headwater.eventstore import RecordedEvent, Statement
from headwater.projections import INTEGER, TEXT, Column, Projection, Table

USAGE = Table(
    "fe_plan_usage",
    {
        "tenant_id": TEXT,
        "owner_id": TEXT,
        "month": TEXT,  # YYYYMM, UTC
        "submissions": Column(INTEGER, default=0),
    },
    primary_key=("tenant_id", "owner_id", "month"),
    tenant_column="tenant_id",
)
plan_usage = Projection("fe_plan_usage", tables=[USAGE], mode="inline")

#: Stands for "no limit" in SQL: a NULL parameter has no type PostgreSQL can infer.
UNLIMITED: Final = 2**62


def month_of(event: RecordedEvent) -> str:
    at = str(event.data["at"])  # ISO 8601 in UTC: "2026-12-07T..."
    return at[:4] + at[5:7]


@plan_usage.on(SubmissionReceived)
def _counted(event: RecordedEvent) -> Statement:
    limit = event.data.get("limit")
    cap = UNLIMITED if limit is None else int(limit)
    ref = USAGE.ref
    # NULL past the limit: the NOT NULL column refuses it, and the append with it.
    sql = (
        f"INSERT INTO {ref} (tenant_id, owner_id, month, submissions) "
        "VALUES (?, ?, ?, CASE WHEN ? > 0 THEN 1 END) "
        "ON CONFLICT (tenant_id, owner_id, month) DO UPDATE SET submissions = "
        f"CASE WHEN {ref}.submissions < ? THEN {ref}.submissions + 1 END"
    )
    tenant = event.tenant_id or ""
    return Statement(sql, (tenant, event.data["owner_id"], month_of(event), cap, cap))


def is_over_plan(error: InlineHandlerFailed) -> bool:
    """Whether an append failed on this read model's limit (and not another rule).

    The databases name the table and column in a NOT NULL violation: SQLite
    "NOT NULL constraint failed: fe_plan_usage.submissions", PostgreSQL 'null value in
    column "submissions" of relation "fe_plan_usage" ...'.
    """
    text = error.message
    return USAGE.name in text and "submissions" in text


__all__ = ["USAGE", "is_over_plan", "month_of", "plan_usage"]
