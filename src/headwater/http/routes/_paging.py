"""Keyset pages of security records: signed cursors bound to the list and the tenant.

A cursor names the last row by ``(created_at, id)``. Its scope includes the tenant,
so a cursor minted for one tenant's list is a 400 in another's, never a peek.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated, Protocol, TypeVar

from fastapi import Query

from headwater.cursors import InvalidCursor
from headwater.runtime import Runtime

Limit = Annotated[int, Query(ge=1, le=200, description="Items per page")]
Cursor = Annotated[
    str | None, Query(max_length=1000, description="From the previous page's pagination")
]


class Keyed(Protocol):
    @property
    def created_at(self) -> int: ...


R = TypeVar("R", bound=Keyed)


async def keyset_page(
    runtime: Runtime,
    scope: str,
    cursor: str | None,
    limit: int,
    fetch: Callable[[tuple[int, str] | None, int], Awaitable[Sequence[R]]],
    id_of: Callable[[R], str],
) -> tuple[list[R], str | None]:
    """One page and the cursor of the next (None on the last page)."""
    after: tuple[int, str] | None = None
    if cursor is not None:
        key = runtime.cursors.decode(scope, cursor)
        if len(key) != 2 or not isinstance(key[0], int) or not isinstance(key[1], str):
            raise InvalidCursor("the cursor is not valid")
        after = (key[0], key[1])
    rows = list(await fetch(after, limit + 1))
    if len(rows) <= limit:
        return rows, None
    last = rows[limit - 1]
    return rows[:limit], runtime.cursors.encode(scope, [last.created_at, id_of(last)])
