"""Opaque, signed cursors for keyset pagination.

A cursor names the last row of a page by its sort key and id; the next page is
``WHERE (sort, id) > (cursor.sort, cursor.id)``, which an index answers without
the cost of OFFSET. Cursors are signed and bound to the list they came from, so a
forged, tampered, foreign or expired cursor is a 400, never a 500 or a wrong page.

Every list also accepts ``sort``, ``order`` and ``total`` (seed 003 ``sortBy``,
``sortOrder``, ``totalCount``; seed 002 ``pagination.total``). A list declares the
columns it may be sorted by (:class:`Sorts`), each backed by an index that starts
with the list's filter columns, so a sorted page is still an index range and never
a sort of the whole table; the web layer answers any other ``sort`` with a 400
``unsupported_sort``. Under every sort the cursor names the last row by ``(sort
value, tiebreak)`` and its scope includes the sort and the order, so a cursor minted
under one sort is a 400 under another, never a page that skips or repeats rows.

``total=true`` counts exactly up to :data:`EXACT_TOTAL_CAP` rows (a bounded
``COUNT``, cheap with the same index); past it PostgreSQL's planner estimate stands
in, and SQLite, which keeps none, reports the cap as a lower bound, with
``Total.exact`` saying which. Here, below the web layer, so services (security's own
lists) page and count the same way the routes do.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal, Protocol

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from headwater.errors import InvalidCursor

__all__ = [
    "EXACT_TOTAL_CAP",
    "CursorCodec",
    "InvalidCursor",
    "ListQuery",
    "Order",
    "Sorts",
    "Total",
    "count_rows",
]

DEFAULT_MAX_AGE_SECONDS = 24 * 3600


class CursorCodec:
    def __init__(self, secret: str, *, max_age: int = DEFAULT_MAX_AGE_SECONDS) -> None:
        self._serializer = URLSafeTimedSerializer(secret, salt="headwater.cursor")
        self._max_age = max_age

    def encode(self, scope: str, key: list[Any]) -> str:
        """``scope`` names the list (route + filters); ``key`` is the last row's sort key."""
        return self._serializer.dumps({"s": scope, "k": key})

    def decode(self, scope: str, cursor: str) -> list[Any]:
        try:
            payload = self._serializer.loads(cursor, max_age=self._max_age)
        except SignatureExpired as exc:
            raise InvalidCursor("the cursor has expired: start again from the first page") from exc
        except (BadSignature, ValueError, TypeError) as exc:
            raise InvalidCursor("the cursor is not valid") from exc
        if not isinstance(payload, dict) or payload.get("s") != scope:
            raise InvalidCursor("the cursor belongs to another list or other filters")
        key = payload.get("k")
        if not isinstance(key, list):
            raise InvalidCursor("the cursor is not valid")
        return key


#: Counts up to this many rows are exact; past it a total is an estimate.
EXACT_TOTAL_CAP: Final = 10_000

Order = Literal["asc", "desc"]


@dataclass(frozen=True, slots=True)
class Sorts:
    """The sortable columns of one list: public name → SQL column.

    ``tiebreak`` is a unique column (the row's id or log position) that orders rows
    with equal sort values, so every row has one place in the order and a cursor
    never skips one.
    """

    columns: Mapping[str, str]
    default: str
    tiebreak: str
    order: Order = "asc"
    #: The orders the list can be read in (a log scan, say, reads forwards only).
    orders: tuple[Order, ...] = ("asc", "desc")

    def __post_init__(self) -> None:
        if self.default not in self.columns:
            raise ValueError(f"default sort {self.default!r} is not a declared column")
        if self.order not in self.orders:
            raise ValueError(f"default order {self.order!r} is not among {self.orders}")


@dataclass(frozen=True, slots=True)
class Total:
    count: int
    exact: bool


@dataclass(frozen=True, slots=True)
class ListQuery:
    """A list's parsed ``sort``, ``order`` and ``total``."""

    sorts: Sorts
    sort: str
    order: Order
    total: bool
    column: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "column", self.sorts.columns[self.sort])

    def scope(self, base: str) -> str:
        """The cursor scope: the list (with its filters) and this sort."""
        return f"{base}|sort={self.sort}:{self.order}"

    def order_by(self) -> str:
        direction = "DESC" if self.order == "desc" else "ASC"
        return f"{self.column} {direction}, {self.sorts.tiebreak} {direction}"

    def after(self, key: Sequence[Any] | None) -> tuple[str, list[Any]] | None:
        """The keyset clause for the rows after ``key`` (None on the first page)."""
        if key is None:
            return None
        op = "<" if self.order == "desc" else ">"
        col, tie = self.column, self.sorts.tiebreak
        return f"({col} {op} ? OR ({col} = ? AND {tie} {op} ?))", [key[0], key[0], key[1]]

    def decode(self, codec: CursorCodec, base: str, cursor: str | None) -> list[Any] | None:
        """The cursor's key, checked to be a (sort value, tiebreak) pair of this sort."""
        if cursor is None:
            return None
        key = codec.decode(self.scope(base), cursor)
        if len(key) != 2 or any(isinstance(v, (dict, list)) for v in key):
            raise InvalidCursor("the cursor is not valid")
        return key

    def encode(self, codec: CursorCodec, base: str, key: Sequence[Any]) -> str:
        return codec.encode(self.scope(base), list(key))


class Rows(Protocol):
    """What counting needs of a store: a dialect and a one-row query."""

    @property
    def dialect(self) -> str: ...

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None: ...


async def count_rows(
    store: Rows, from_where: str, params: Sequence[Any], *, cap: int = EXACT_TOTAL_CAP
) -> Total:
    """The number of rows ``SELECT 1 {from_where}`` yields: exact up to ``cap``.

    The count is bounded (``LIMIT cap + 1`` inside) so a huge list costs at most
    ``cap`` index entries; past the cap PostgreSQL's planner estimate stands in, and
    SQLite, which keeps none, reports the cap as a lower bound.
    """
    row = await store.fetchone(
        f"SELECT COUNT(*) FROM (SELECT 1 AS one {from_where} LIMIT {int(cap) + 1}) counted",
        list(params),
    )
    counted = int(row[0]) if row is not None else 0
    if counted <= cap:
        return Total(counted, True)
    if store.dialect == "postgresql":
        plan = await store.fetchone(f"EXPLAIN (FORMAT JSON) SELECT 1 {from_where}", list(params))
        if plan is not None:
            parsed = json.loads(plan[0]) if isinstance(plan[0], str) else plan[0]
            estimate = int(parsed[0]["Plan"]["Plan Rows"])
            return Total(max(estimate, counted), False)
    return Total(counted, False)
