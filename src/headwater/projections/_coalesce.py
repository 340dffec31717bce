"""Fewer, bigger statements per batch, with the same effect as running them in order.

Two steps, both limited to *runs* of adjacent statements with the same SQL (a
different statement in between could depend on the order, so runs never cross it):

1. A run becomes one ``executemany``: one round trip on PostgreSQL (psycopg
   pipelines it), one prepared statement on SQLite.
2. In a run of upserts, rows with the same key are folded into one row first: for
   the merge rules of :class:`~headwater.projections._columns.Merge` (replace, add,
   keep, greatest, least) applying the folded row equals applying each in turn.
   Counters and "last seen" columns of a hot key then cost one row per batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from headwater.eventstore._sql import Statement
from headwater.projections._columns import Merge


@dataclass(frozen=True, slots=True)
class FoldPlan:
    """How the parameters of one upsert SQL fold: key positions, a rule per position."""

    key: tuple[int, ...]
    rules: tuple[Merge | None, ...]  # None for key columns


#: Upsert SQL -> how to fold its rows; filled as tables build their upsert SQL.
_PLANS: dict[str, FoldPlan] = {}
#: Bounds the registry if an app builds an unbounded variety of upsert shapes.
MAX_PLANS: Final = 10_000


def register_fold_plan(sql: str, plan: FoldPlan) -> None:
    if len(_PLANS) < MAX_PLANS:
        _PLANS[sql] = plan


def fold_rows(plan: FoldPlan, rows: list[Sequence[Any]]) -> list[Sequence[Any]]:
    """Rows with equal keys folded into one, in first-seen key order."""
    folded: dict[tuple[Any, ...], list[Any]] = {}
    for row in rows:
        key = tuple(row[i] for i in plan.key)
        current = folded.get(key)
        if current is None:
            folded[key] = list(row)
            continue
        for i, rule in enumerate(plan.rules):
            if rule is None or rule is Merge.KEEP:
                continue  # KEEP: the first row's value is what a sequence would keep
            new = row[i]
            if rule is Merge.REPLACE:
                current[i] = new
            elif rule is Merge.ADD:
                if new is None or current[i] is None:
                    # SQL's NULL arithmetic is not associative: do not fold at all.
                    return rows
                current[i] = current[i] + new
            elif new is not None and (
                current[i] is None
                or (new > current[i] if rule is Merge.GREATEST else new < current[i])
            ):
                current[i] = new
    if len(folded) == len(rows):
        return rows
    return list(folded.values())


def coalesce(statements: Sequence[Statement]) -> list[Statement]:
    out: list[Statement] = []
    run_sql: str | None = None
    rows: list[Sequence[Any]] = []
    for statement in statements:
        if statement.sql != run_sql:
            if run_sql is not None:
                out.append(_emit(run_sql, rows))
            run_sql, rows = statement.sql, []
        if statement.many:
            rows.extend(statement.params)
        else:
            rows.append(statement.params)
    if run_sql is not None:
        out.append(_emit(run_sql, rows))
    return out


def _emit(sql: str, rows: list[Sequence[Any]]) -> Statement:
    if len(rows) > 1:
        plan = _PLANS.get(sql)
        if plan is not None:
            rows = fold_rows(plan, rows)
    if len(rows) == 1:
        return Statement(sql, rows[0])
    return Statement.executemany(sql, rows)
