"""Read-model queries: plain SQL on the read path (``store.fetchall``), always by tenant.

Lists are keyset pages in the order the client asked (``sort``/``order`` over the
columns each list declares, every one indexed after the list's filters, with the
log position each row was created at as the tiebreak), so a page costs the same on
the first page as on the thousandth.
"""

from __future__ import annotations

from typing import Any

from headwater.eventstore import EventStore
from headwater.http import CursorCodec, ListQuery, Sorts, Total, count_rows
from headwater.projections import Table

#: Events: by creation (the default), name or start; indexes in projections.directory.
EVENT_SORTS = Sorts(
    {"created_at": "position", "name": "name", "starts_at": "starts_at"},
    default="created_at",
    tiebreak="position",
)
#: Guests of an event: by creation, last or first name.
GUEST_SORTS = Sorts(
    {"created_at": "position", "last_name": "last_name", "first_name": "first_name"},
    default="created_at",
    tiebreak="position",
)
#: Families of an event: by creation or name.
FAMILY_SORTS = Sorts(
    {"created_at": "position", "name": "name"}, default="created_at", tiebreak="position"
)


async def page_rows(
    store: EventStore,
    cursors: CursorCodec,
    table: Table,
    *,
    scope: str,
    query: ListQuery,
    where: dict[str, Any],
    cursor: str | None,
    limit: int,
    search: tuple[list[str], str] | None = None,
) -> tuple[list[dict[str, Any]], str | None, Total | None]:
    """One page of ``table`` rows matching ``where`` (equality) in ``query``'s order,
    the next page's cursor, and the total when the client asked for it."""
    clauses = [f"{col} = ?" for col in where]
    params: list[Any] = list(where.values())
    if search is not None:
        columns, text = search
        like = f"%{text.lower().replace('%', '').replace('_', '')}%"
        clauses.append("(" + " OR ".join(f"LOWER({c}) LIKE ?" for c in columns) + ")")
        params.extend([like] * len(columns))
    filtered = f"FROM {table.name} WHERE {' AND '.join(clauses)}"
    total = await count_rows(store, filtered, params) if query.total else None
    keyset = query.after(query.decode(cursors, scope, cursor))
    if keyset is not None:
        filtered += f" AND {keyset[0]}"
        params += keyset[1]
    cols = ", ".join(table.columns)
    sql = f"SELECT {cols} {filtered} ORDER BY {query.order_by()} LIMIT ?"
    rows = await store.fetchall(sql, [*params, limit + 1])
    items = [table.decode_row(r) for r in rows[:limit]]
    next_cursor = None
    if len(rows) > limit:
        last = items[-1]
        key = [last[query.column], last[query.sorts.tiebreak]]
        next_cursor = query.encode(cursors, scope, key)
    return items, next_cursor, total


async def rows(
    store: EventStore, table: Table, where: dict[str, Any], *, order: str = "position"
) -> list[dict[str, Any]]:
    clauses = " AND ".join(f"{col} = ?" for col in where)
    sql = f"SELECT {', '.join(table.columns)} FROM {table.name} WHERE {clauses} ORDER BY {order}"
    return [table.decode_row(r) for r in await store.fetchall(sql, list(where.values()))]


async def one(store: EventStore, table: Table, where: dict[str, Any]) -> dict[str, Any] | None:
    found = await rows(store, table, where, order=", ".join(table.primary_key))
    return found[0] if found else None
