"""Read-model queries: plain SQL on the read path (``store.fetchall``), always by tenant.

Lists page by the log position each row was created at (indexed with the tenant),
so a page costs the same on the first page as on the thousandth.
"""

from __future__ import annotations

from typing import Any

from headwater.cursors import CursorCodec
from headwater.eventstore import EventStore
from headwater.projections import Table


async def page_rows(
    store: EventStore,
    cursors: CursorCodec,
    table: Table,
    *,
    scope: str,
    where: dict[str, Any],
    cursor: str | None,
    limit: int,
    search: tuple[list[str], str] | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of ``table`` rows matching ``where`` (equality), oldest first."""
    clauses = [f"{col} = ?" for col in where]
    params: list[Any] = list(where.values())
    if cursor is not None:
        (after,) = cursors.decode(scope, cursor)
        clauses.append("position > ?")
        params.append(int(after))
    if search is not None:
        columns, text = search
        like = f"%{text.lower().replace('%', '').replace('_', '')}%"
        clauses.append("(" + " OR ".join(f"LOWER({c}) LIKE ?" for c in columns) + ")")
        params.extend([like] * len(columns))
    cols = ", ".join(table.columns)
    sql = f"SELECT {cols} FROM {table.name} WHERE {' AND '.join(clauses)} ORDER BY position LIMIT ?"
    rows = await store.fetchall(sql, [*params, limit + 1])
    items = [table.decode_row(r) for r in rows[:limit]]
    next_cursor = None
    if len(rows) > limit:
        next_cursor = cursors.encode(scope, [items[-1]["position"]])
    return items, next_cursor


async def rows(
    store: EventStore, table: Table, where: dict[str, Any], *, order: str = "position"
) -> list[dict[str, Any]]:
    clauses = " AND ".join(f"{col} = ?" for col in where)
    sql = f"SELECT {', '.join(table.columns)} FROM {table.name} WHERE {clauses} ORDER BY {order}"
    return [table.decode_row(r) for r in await store.fetchall(sql, list(where.values()))]


async def one(store: EventStore, table: Table, where: dict[str, Any]) -> dict[str, Any] | None:
    found = await rows(store, table, where, order=", ".join(table.primary_key))
    return found[0] if found else None
