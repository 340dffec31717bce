"""The backoffice's read models (user stats, daily form metrics, each with its
freshness) and the review queue for parked critical changes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from apps.formease import queries
from apps.formease.api.deps import AdminActor, AppRuntime, FormEaseService, StaffActor
from apps.formease.api.models import Rejection
from apps.formease.domain.users import Plan
from apps.formease.projections import FORM_METRICS_PROJECTIONS, USER_STATS_PROJECTIONS
from headwater.domain import AcceptReview, RejectReview, ReviewId, open_reviews
from headwater.errors import InvalidInput
from headwater.http import (
    AUTH_ERRORS,
    BAD_REQUEST,
    CONFLICT,
    NOT_FOUND,
    Envelope,
    ListQuery,
    Page,
    list_query,
    ok,
    page,
)

router = APIRouter(prefix="/formease/admin", tags=["formease"], responses=AUTH_ERRORS)

MAX_RANGE_DAYS = 366


@router.get(
    "/user-stats",
    summary="Users with their form and submission counts (search, sort, pages)",
    responses=BAD_REQUEST,
)
async def user_stats(
    actor: StaffActor,
    service: FormEaseService,
    runtime: AppRuntime,
    query: Annotated[ListQuery, Depends(list_query(queries.USER_SORTS))],
    plan: Plan | None = None,
    active_days: int | None = Query(default=None, ge=1, le=3650),
    search: str | None = Query(default=None, min_length=1, max_length=100),
    cursor: str | None = Query(default=None, max_length=2000),
    limit: int = Query(default=50, ge=1, le=500),
) -> Page[dict[str, Any]]:
    filters = queries.UserFilters(
        plan=plan.value if plan else None, active_days=active_days, search=search
    )
    # The cursor is bound to the filters: reusing it on another list is a 400.
    scope = f"fe-users:{actor.tenant_id}:{filters}"
    after = query.decode(runtime.cursors, scope, cursor)
    rows, key, total = await queries.user_stats(
        service.store,
        actor.tenant_id,
        filters,
        after=after,
        limit=limit,
        query=query,
        cache=runtime.cache,
    )
    fresh = await queries.freshness(service.store, USER_STATS_PROJECTIONS)
    next_cursor = query.encode(runtime.cursors, scope, key) if key else None
    return page(rows, cursor=next_cursor, limit=limit, total=total, freshness=fresh)


@router.get(
    "/form-metrics",
    summary="Submissions and completion-time percentiles per day",
    responses=BAD_REQUEST,
)
async def form_metrics(
    actor: StaffActor,
    service: FormEaseService,
    runtime: AppRuntime,
    start: date | None = None,
    end: date | None = None,
    days: int = Query(default=7, ge=1, le=MAX_RANGE_DAYS),
) -> Envelope[dict[str, Any]]:
    """Daily forms created, unique creators, submissions, median and p90 completion
    time (1 s resolution) over [start, end], default the last ``days`` days (UTC)."""
    end = end or datetime.now(UTC).date()
    start = start or end - timedelta(days=days - 1)
    if start > end or (end - start).days >= MAX_RANGE_DAYS:
        raise InvalidInput("start must not be after end, and the range at most a year")
    data = await queries.form_metrics(
        service.store, actor.tenant_id, start, end, cache=runtime.cache
    )
    fresh = await queries.freshness(service.store, FORM_METRICS_PROJECTIONS)
    return ok(data, freshness=fresh)


@router.get("/reviews", summary="Conflicting edits waiting for a tenant admin's decision")
async def reviews(actor: StaffActor, service: FormEaseService) -> Envelope[list[dict[str, Any]]]:
    """Open reviews: the parked write (mine), the fields in conflict, base and theirs."""
    found = await open_reviews(service.store, tenant_id=actor.tenant_id)
    out = []
    for review in found:
        escalation = review.escalation
        assert escalation is not None
        out.append(
            {
                "review_id": review.id.value,
                "aggregate_type": escalation.aggregate_type,
                "aggregate_id": escalation.aggregate_id,
                "based_on_version": escalation.based_on_version,
                "current_version": escalation.current_version,
                "command": escalation.command,
                "fields": escalation.fields,
                "actor": escalation.actor,
            }
        )
    return ok(out)


@router.post(
    "/reviews/{review_id}/accept",
    summary="Accept a conflicting edit under review",
    responses={**NOT_FOUND, **CONFLICT},
)
async def accept(
    review_id: str, actor: AdminActor, service: FormEaseService
) -> Envelope[dict[str, Any]]:
    result = await service.bus.send(
        AcceptReview(review_id=ReviewId(review_id)), actor.context(None, "accept")
    )
    return ok({"review_id": review_id, "applied_version": result.value})


@router.post(
    "/reviews/{review_id}/reject",
    summary="Reject a conflicting edit under review",
    responses={**NOT_FOUND, **CONFLICT},
)
async def reject(
    review_id: str, body: Rejection, actor: AdminActor, service: FormEaseService
) -> Envelope[dict[str, Any]]:
    await service.bus.send(
        RejectReview(review_id=ReviewId(review_id), reason=body.reason),
        actor.context(None, "reject"),
    )
    return ok({"review_id": review_id, "status": "rejected"})
