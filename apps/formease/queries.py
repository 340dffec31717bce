"""Reads over FormEase's read models: plain parameterised SQL, tenant first in every WHERE.

Reads use ``store.fetchall`` (never a write transaction): they never wait on writers.
The backoffice figures (user stats, form metrics) go through the node's cache under
seed 002's ``COMPUTED`` policy when given one, dropped by their tables' tags
(``apps.formease.caching``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson

from apps.formease.caching import cached
from apps.formease.projections import (
    COMPLETION,
    DAILY,
    DAILY_CREATORS,
    FIELD_VIEWS,
    PROJECTIONS,
    SUBMISSIONS,
    USER_DAYS,
    USERS,
    bucket_midpoint,
)
from headwater.cache import COMPUTED, Cache
from headwater.eventstore import EventStore
from headwater.http import ListQuery, Sorts, Total, count_rows
from headwater.projections import projection_status

#: The user list's sorts (seed 003 ``sortBy``/``sortOrder``), newest first by default;
#: each has an index after tenant_id (apps.formease.projections.USERS).
USER_SORTS = Sorts(
    {
        "created_at": "created_at",
        "email": "email",
        "name": "name",
        "last_active_at": "last_active_at",
    },
    default="created_at",
    tiebreak="user_id",
    order="desc",
)
#: The submission list's sorts, log order by default (SUBMISSIONS' indexes).
SUBMISSION_SORTS = Sorts(
    {
        "log_position": "log_position",
        "submitted_at": "submitted_at",
        "completion_ms": "completion_ms",
    },
    default="log_position",
    tiebreak="log_position",
)

USER_COLUMNS = (
    "user_id",
    "email",
    "name",
    "plan",
    "role",
    "created_at",
    "last_active_at",
    "forms",
    "submissions",
    "last_submission_at",
)
SUBMISSION_COLUMNS = (
    "submission_id",
    "form_id",
    "owner_id",
    "version",
    "submitted_at",
    "completion_ms",
    "answers",
    "log_position",
)


async def freshness(store: EventStore, names: Sequence[str]) -> dict[str, Any]:
    """Where a screen's read models stand in the log: the least fresh of them counts."""
    found = [s for s in await projection_status(store, PROJECTIONS) if s.name in names]
    if len(found) != len(names):
        return {
            "projections": list(names),
            "state": "missing",
            "position": 0,
            "head": 0,
            "lag_events": None,
            "lag_seconds": None,
        }
    states = {str(s.state) for s in found}
    return {
        "projections": list(names),
        "state": states.pop() if len(states) == 1 else "mixed",
        "position": min(s.position for s in found),
        "head": max(s.head for s in found),
        "lag_events": max(s.lag_events for s in found),
        "lag_seconds": max(s.lag_seconds for s in found),
    }


def _like(text: str) -> str:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


@dataclass(frozen=True)
class UserFilters:
    plan: str | None = None
    active_days: int | None = None
    search: str | None = None


async def user_stats(
    store: EventStore,
    tenant_id: str,
    filters: UserFilters,
    *,
    after: Sequence[Any] | None,
    limit: int,
    query: ListQuery | None = None,
    recent_days: int = 30,
    now: datetime | None = None,
    cache: Cache | None = None,
) -> tuple[list[dict[str, Any]], list[Any] | None, Total | None]:
    """One page of users in ``query``'s order (newest first by default); returns the
    rows, the next page's key and the total when ``query`` asks for it.

    With ``cache`` (and no fixed ``now``) the page is a ``COMPUTED`` figure: kept
    until a write to the users' tables drops it, or ten minutes pass (which bounds how
    late ``active_days`` and the recent count follow the clock alone).
    """
    query = query or ListQuery(USER_SORTS, USER_SORTS.default, USER_SORTS.order, False)
    if cache is None or now is not None:
        return await _user_stats(store, tenant_id, filters, after, limit, query, recent_days, now)
    shape = [filters.plan, filters.active_days, filters.search, after, limit, recent_days]
    key = orjson.dumps([*shape, query.sort, query.order, query.total]).decode()

    async def compute() -> dict[str, Any]:
        found = await _user_stats(store, tenant_id, filters, after, limit, query, recent_days, None)
        rows, next_key, total = found
        # Plain data: what L2 stores is JSON, and L1 must give what L2 would.
        return {"rows": rows, "key": next_key, "total": total and [total.count, total.exact]}

    value = await cached(
        cache,
        tenant_id,
        f"fe:user-stats:{key}",
        compute,
        policy=COMPUTED,
        tables=[USERS, USER_DAYS],
    )
    total = value["total"]
    return value["rows"], value["key"], Total(*total) if total is not None else None


async def _user_stats(
    store: EventStore,
    tenant_id: str,
    filters: UserFilters,
    after: Sequence[Any] | None,
    limit: int,
    query: ListQuery,
    recent_days: int,
    now: datetime | None,
) -> tuple[list[dict[str, Any]], list[Any] | None, Total | None]:
    now = now or datetime.now(UTC)
    where, params = ["tenant_id = ?"], [tenant_id]
    if filters.plan is not None:
        where.append("plan = ?")
        params.append(filters.plan)
    if filters.active_days is not None:
        where.append("last_active_at >= ?")
        params.append(USERS.encode("last_active_at", now - timedelta(days=filters.active_days)))
    if filters.search:
        where.append("(LOWER(email) LIKE ? ESCAPE '\\' OR LOWER(name) LIKE ? ESCAPE '\\')")
        params += [_like(filters.search)] * 2
    total = (
        await count_rows(store, f"FROM {USERS.ref} WHERE {' AND '.join(where)}", params)
        if query.total
        else None
    )
    keyset = query.after(after)
    if keyset is not None:
        where.append(keyset[0])
        params += keyset[1]
    sql = (
        f"SELECT {', '.join(USER_COLUMNS)} FROM {USERS.ref} WHERE {' AND '.join(where)} "
        f"ORDER BY {query.order_by()} LIMIT ?"
    )
    rows = await store.fetchall(sql, [*params, limit + 1])
    users = [
        {
            c: USERS.decode(c, v) if v is not None else None
            for c, v in zip(USER_COLUMNS, row, strict=False)
        }
        for row in rows[:limit]
    ]
    if users:
        since = (now - timedelta(days=recent_days)).date().isoformat()
        marks = ", ".join("?" * len(users))
        recent = await store.fetchall(
            f"SELECT user_id, SUM(submissions) FROM {USER_DAYS.ref} WHERE tenant_id = ? "
            f"AND day >= ? AND user_id IN ({marks}) GROUP BY user_id",
            [tenant_id, since, *(u["user_id"] for u in users)],
        )
        counts = {user_id: int(total) for user_id, total in recent}
        for user in users:
            user["recent_submissions"] = counts.get(user["user_id"], 0)
    key = None
    if len(rows) > limit:
        last = users[-1]
        key = [USERS.encode(query.column, last[query.column]), last["user_id"]]
    return users, key, total


def _percentile(histogram: dict[int, int], fraction: float) -> float | None:
    """The bucket holding the ``fraction`` quantile, as its midpoint in milliseconds."""
    total = sum(histogram.values())
    if total == 0:
        return None
    rank, seen = fraction * total, 0
    for bucket in sorted(histogram):
        seen += histogram[bucket]
        if seen >= rank:
            return bucket_midpoint(bucket)
    return bucket_midpoint(max(histogram))


async def form_metrics(
    store: EventStore, tenant_id: str, start: date, end: date, *, cache: Cache | None = None
) -> dict[str, Any]:
    """One row per day of [start, end] (zeros included), and totals over the range:
    through ``cache`` as a ``COMPUTED`` figure, dropped by a write to its tables."""
    return await cached(
        cache,
        tenant_id,
        f"fe:form-metrics:{start.isoformat()}:{end.isoformat()}",
        lambda: _form_metrics(store, tenant_id, start, end),
        policy=COMPUTED,
        tables=[DAILY, DAILY_CREATORS, COMPLETION],
    )


async def _form_metrics(
    store: EventStore, tenant_id: str, start: date, end: date
) -> dict[str, Any]:
    """One row per day of [start, end] (zeros included), and totals over the range.

    Two small queries: the daily counters (unique creators counted per day by an
    index lookup), and the range's histogram rows, folded here into percentiles (a
    running sum in SQL measured slower than shipping the few thousand rows).
    """
    span = [tenant_id, start.isoformat(), end.isoformat()]
    in_range = "tenant_id = ? AND day >= ? AND day <= ?"
    daily = await store.fetchall(
        f"SELECT d.day, d.forms_created, d.submissions, (SELECT COUNT(*) FROM "
        f"{DAILY_CREATORS.ref} c WHERE c.tenant_id = d.tenant_id AND c.day = d.day) "
        f"FROM {DAILY.ref} d WHERE {in_range}",
        span,
    )
    buckets = await store.fetchall(
        f"SELECT day, bucket, n FROM {COMPLETION.ref} WHERE {in_range}", span
    )
    per_day: dict[str, dict[int, int]] = {}
    histogram: dict[int, int] = {}
    for day, bucket, count in buckets:
        per_day.setdefault(str(day), {})[int(bucket)] = int(count)
        histogram[int(bucket)] = histogram.get(int(bucket), 0) + int(count)
    marks = {day: (_percentile(h, 0.5), _percentile(h, 0.9)) for day, h in per_day.items()}
    counts = {str(day): (int(f), int(s), int(u)) for day, f, s, u in daily}
    days: list[dict[str, Any]] = []
    current = start
    while current <= end:
        key = current.isoformat()
        forms, subs, uniques = counts.get(key, (0, 0, 0))
        median, p90 = marks.get(key, (None, None))
        days.append(
            {
                "date": key,
                "forms_created": forms,
                "unique_users": uniques,
                "submissions": subs,
                "median_completion_ms": median,
                "p90_completion_ms": p90,
            }
        )
        current += timedelta(days=1)
    totals = {
        "forms_created": sum(c[0] for c in counts.values()),
        "submissions": sum(c[1] for c in counts.values()),
        "median_completion_ms": _percentile(histogram, 0.5),
        "p90_completion_ms": _percentile(histogram, 0.9),
    }
    return {"days": days, "totals": totals}


@dataclass(frozen=True)
class SubmissionFilters:
    form_id: str | None = None
    owner_id: str | None = None
    version: int | None = None
    since: datetime | None = None
    until: datetime | None = None


def _submission_where(tenant_id: str, filters: SubmissionFilters) -> tuple[list[str], list[Any]]:
    where, params = ["tenant_id = ?"], [tenant_id]
    for column in ("form_id", "owner_id", "version"):
        value = getattr(filters, column)
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    if filters.since is not None:
        where.append("submitted_at >= ?")
        params.append(SUBMISSIONS.encode("submitted_at", filters.since))
    if filters.until is not None:
        where.append("submitted_at < ?")
        params.append(SUBMISSIONS.encode("submitted_at", filters.until))
    return where, params


async def list_submissions(
    store: EventStore,
    tenant_id: str,
    filters: SubmissionFilters,
    *,
    after: int | None,
    limit: int,
) -> list[dict[str, Any]]:
    """Submissions in log order (log_position), from just after ``after``: keyset, no OFFSET."""
    where, params = _submission_where(tenant_id, filters)
    if after is not None:
        where.append("log_position > ?")
        params.append(after)
    rows = await store.fetchall(
        f"SELECT {', '.join(SUBMISSION_COLUMNS)} FROM {SUBMISSIONS.ref} "
        f"WHERE {' AND '.join(where)} ORDER BY log_position LIMIT ?",
        [*params, limit],
    )
    return [
        {c: SUBMISSIONS.decode(c, v) for c, v in zip(SUBMISSION_COLUMNS, row, strict=False)}
        for row in rows
    ]


async def page_submissions(
    store: EventStore,
    tenant_id: str,
    filters: SubmissionFilters,
    query: ListQuery,
    *,
    after: Sequence[Any] | None,
    limit: int,
) -> tuple[list[dict[str, Any]], list[Any] | None, Total | None]:
    """One page of submissions in ``query``'s order, the next page's key, the total."""
    where, params = _submission_where(tenant_id, filters)
    total = (
        await count_rows(store, f"FROM {SUBMISSIONS.ref} WHERE {' AND '.join(where)}", params)
        if query.total
        else None
    )
    keyset = query.after(after)
    if keyset is not None:
        where.append(keyset[0])
        params += keyset[1]
    rows = await store.fetchall(
        f"SELECT {', '.join(SUBMISSION_COLUMNS)} FROM {SUBMISSIONS.ref} "
        f"WHERE {' AND '.join(where)} ORDER BY {query.order_by()} LIMIT ?",
        [*params, limit + 1],
    )
    items = [
        {c: SUBMISSIONS.decode(c, v) for c, v in zip(SUBMISSION_COLUMNS, row, strict=False)}
        for row in rows[:limit]
    ]
    key = None
    if len(rows) > limit:
        last = items[-1]
        key = [SUBMISSIONS.encode(query.column, last[query.column]), last["log_position"]]
    return items, key, total


async def iter_submissions(
    store: EventStore, tenant_id: str, filters: SubmissionFilters, *, batch: int = 2000
) -> AsyncIterator[dict[str, Any]]:
    """Every matching submission, one keyset batch in memory at a time."""
    after: int | None = None
    while True:
        rows = await list_submissions(store, tenant_id, filters, after=after, limit=batch)
        for row in rows:
            yield row
        if len(rows) < batch:
            return
        after = int(rows[-1]["log_position"])


async def field_views(
    store: EventStore, tenant_id: str, form_id: str, version: int
) -> dict[str, tuple[int, int]]:
    rows = await store.fetchall(
        f"SELECT field, views, completed FROM {FIELD_VIEWS.ref} "
        "WHERE tenant_id = ? AND form_id = ? AND version = ?",
        [tenant_id, form_id, version],
    )
    return {str(field): (int(views), int(done)) for field, views, done in rows}


async def submitted_versions(
    store: EventStore, tenant_id: str, filters: SubmissionFilters
) -> list[tuple[str, int]]:
    """The (form, version) pairs the matching submissions were made on, newest version
    first per form: an export's columns are known before its first row is written."""
    where, params = _submission_where(tenant_id, filters)
    rows = await store.fetchall(
        f"SELECT DISTINCT form_id, version FROM {SUBMISSIONS.ref} "
        f"WHERE {' AND '.join(where)} ORDER BY form_id, version DESC",
        params,
    )
    return [(str(form_id), int(version)) for form_id, version in rows]
