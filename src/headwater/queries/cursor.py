"""Opaque pagination cursors and keyset pages.

A cursor is the ordering values of the last row a client saw, as base64url JSON.
It is not secret and not signed: decoding only ever yields bound parameters for
``Select.after``, so a forged cursor can at worst page from somewhere else. A
malformed one is a clear ``InvalidCursor`` (HTTP 400), never a server error.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final

import orjson

from headwater.errors import InvalidCursor
from headwater.eventstore.protocol import EventStore
from headwater.queries.select import Select

MAX_CURSOR_LENGTH: Final = 2048
_SCALARS: Final = (str, int, float, bool, type(None))


def _plain(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value


def encode_cursor(values: list[Any]) -> str:
    raw = orjson.dumps({"k": [_plain(v) for v in values]})
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, size: int) -> list[Any]:
    if not isinstance(cursor, str) or not cursor or len(cursor) > MAX_CURSOR_LENGTH:
        raise InvalidCursor("the cursor is empty or too long")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = orjson.loads(raw)
    except (binascii.Error, ValueError) as exc:
        raise InvalidCursor("the cursor is not one this server issued") from exc
    values = data.get("k") if isinstance(data, dict) else None
    if (
        not isinstance(values, list)
        or len(values) != size
        or not all(isinstance(v, _SCALARS) for v in values)
    ):
        raise InvalidCursor("the cursor does not fit this query")
    return values


@dataclass(frozen=True, slots=True)
class Page:
    items: list[dict[str, Any]]
    next_cursor: str | None


async def fetch_page(
    store: EventStore, query: Select, *, limit: int, cursor: str | None = None
) -> Page:
    """One page of ``query``. Its ordering must end in a unique key (say the primary
    key), and every ordering column must be among the selected values."""
    names = [o.target for o in query.ordering]
    if not names or not all(isinstance(n, str) for n in names):
        raise InvalidCursor("paged queries order by named columns")
    page_query = query
    if cursor is not None:
        try:
            page_query = query.after(decode_cursor(cursor, len(names)))
        except InvalidCursor:
            raise
        except Exception as exc:  # a value that does not fit its column
            raise InvalidCursor("the cursor does not fit this query") from exc
    rows = await page_query.limit(limit + 1).fetch(store)
    if len(rows) <= limit:
        return Page(rows, None)
    rows = rows[:limit]
    last = rows[-1]
    return Page(rows, encode_cursor([last[str(n)] for n in names]))
