"""The tenant admin's view of token use: who spent what this month against the budgets."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Query

from apps.assistant.api.deps import AssistantService
from apps.assistant.budgets import month_of, reset_of
from apps.assistant.projections import USAGE
from headwater.http import AUTH_ERRORS, BAD_REQUEST, AppRuntime, Page, TenantAdmin, page

router = APIRouter(prefix="/assistant/admin", tags=["assistant"], responses=AUTH_ERRORS)


@router.get(
    "/usage",
    summary="Tokens and replies per user this month, most used first (cursor pages)",
    responses=BAD_REQUEST,
)
async def usage(
    admin: TenantAdmin,
    service: AssistantService,
    runtime: AppRuntime,
    month: str | None = Query(default=None, pattern=r"^\d{4}-\d{2}$"),
    cursor: str | None = Query(default=None, max_length=2000),
    limit: int = Query(default=50, ge=1, le=200),
) -> Page[dict[str, Any]]:
    tenant_id = admin.require_tenant()
    now = datetime.now(UTC)
    month = month or month_of(now)
    scope = f"assistant-usage:{tenant_id}:{month}"
    where, params = ["tenant_id = ?", "month = ?", "scope LIKE 'user:%'"], [tenant_id, month]
    if cursor:
        tokens, user_scope = runtime.cursors.decode(scope, cursor)
        where.append("(tokens < ? OR (tokens = ? AND scope > ?))")
        params += [tokens, tokens, user_scope]
    rows = await service.store.fetchall(
        f"SELECT scope, tokens, replies FROM {USAGE.ref} WHERE {' AND '.join(where)} "
        "ORDER BY tokens DESC, scope LIMIT ?",
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
        last = rows[limit - 1]
        next_cursor = runtime.cursors.encode(scope, [int(last[1]), str(last[0])])
    return page(found, cursor=next_cursor, limit=limit)
