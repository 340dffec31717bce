"""Keyset pages of security records: signed cursors bound to the list, sort and tenant.

A cursor names the last row by ``(sort value, id)``. Its scope includes the tenant
and the sort, so a cursor minted for one tenant's list (or one order) is a 400 in
another, never a peek or a page that skips rows.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated, Any, TypeVar

from fastapi import Query

from headwater.cursors import ListQuery, Total
from headwater.runtime import Runtime

Limit = Annotated[int, Query(ge=1, le=200, description="Items per page")]
Cursor = Annotated[
    str | None, Query(max_length=1000, description="From the previous page's pagination")
]

R = TypeVar("R")


async def keyset_page(
    runtime: Runtime,
    scope: str,
    query: ListQuery,
    cursor: str | None,
    limit: int,
    fetch: Callable[[Sequence[Any] | None, int], Awaitable[Sequence[R]]],
    key_of: Callable[[R], list[Any]],
    count: Callable[[], Awaitable[Total]],
) -> tuple[list[R], str | None, Total | None]:
    """One page, the cursor of the next (None on the last page) and, when asked, the total."""
    after = query.decode(runtime.cursors, scope, cursor)
    rows = list(await fetch(after, limit + 1))
    total = await count() if query.total else None
    if len(rows) <= limit:
        return rows, None, total
    return rows[:limit], query.encode(runtime.cursors, scope, key_of(rows[limit - 1])), total
