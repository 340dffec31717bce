"""The tenant admin's view of token use: who spent what this month against the budgets."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from apps.assistant.api.deps import AssistantService
from apps.assistant.budgets import month_of, reset_of
from apps.assistant.projections import USAGE
from headwater.http import (
    AUTH_ERRORS,
    BAD_REQUEST,
    AppRuntime,
    ListQuery,
    Page,
    Sorts,
    TenantAdmin,
    count_rows,
    list_query,
    page,
)

router = APIRouter(prefix="/assistant/admin", tags=["assistant"], responses=AUTH_ERRORS)

#: Most used first by default; the scope (``user:{id}``, unique in a month) breaks ties.
USAGE_SORTS = Sorts(
    {"tokens": "tokens", "replies": "replies", "user": "scope"},
    default="tokens",
    tiebreak="scope",
    order="desc",
)


@router.get(
    "/usage",
    summary="Tokens and replies per user this month, most used first (cursor pages)",
    responses=BAD_REQUEST,
)
async def usage(
    admin: TenantAdmin,
    service: AssistantService,
    runtime: AppRuntime,
    query: Annotated[ListQuery, Depends(list_query(USAGE_SORTS))],
    month: str | None = Query(default=None, pattern=r"^\d{4}-\d{2}$"),
    cursor: str | None = Query(default=None, max_length=2000),
    limit: int = Query(default=50, ge=1, le=200),
) -> Page[dict[str, Any]]:
    tenant_id = admin.require_tenant()
    now = datetime.now(UTC)
    month = month or month_of(now)
    scope = f"assistant-usage:{tenant_id}:{month}"
    after = query.decode(runtime.cursors, scope, cursor)
    where = ["tenant_id = ?", "month = ?", "scope LIKE 'user:%'"]
    params: list[Any] = [tenant_id, month]
    total = (
        await count_rows(service.store, f"FROM {USAGE.ref} WHERE {' AND '.join(where)}", params)
        if query.total
        else None
    )
    keyset = query.after(after)
    if keyset is not None:
        where.append(keyset[0])
        params += keyset[1]
    rows = await service.store.fetchall(
        f"SELECT scope, tokens, replies FROM {USAGE.ref} WHERE {' AND '.join(where)} "
        f"ORDER BY {query.order_by()} LIMIT ?",
        [*params, limit + 1],
    )
    budget = service.budgets.user
    found = [
        {
            "user_id": str(row[0]).removeprefix("user:"),
            "tokens": int(row[1]),
            "replies": int(row[2]),
            "budget": budget,
            "left": max(0, budget - int(row[1])),
            "resets_at": reset_of(now).isoformat(),
        }
        for row in rows[:limit]
    ]
    next_cursor = None
    if len(rows) > limit:
        last = dict(zip(("scope", "tokens", "replies"), rows[limit - 1], strict=True))
        key = [last[query.column], last["scope"]]
        next_cursor = query.encode(runtime.cursors, scope, key)
    return page(found, cursor=next_cursor, limit=limit, total=total)
