"""Read-model checksums that compare equal across backends.

A checksum is taken over a projection's *decoded* rows (each table's own decoders
turn SQLite's and PostgreSQL's storage forms into the same Python values), each row
serialised with sorted keys, the lines sorted in Python: SQL ``ORDER BY`` on text
would follow the database's collation, which differs between the two backends.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from headwater.projections import Projection

Fetch = Callable[[str], Awaitable[Sequence[Sequence[Any]]]]


@dataclass(frozen=True, slots=True)
class ReadModelChecksum:
    projection: str
    rows: int
    sha256: str


def _default(value: object) -> object:
    return str(value)


async def projection_checksum(fetch: Fetch, projection: Projection) -> ReadModelChecksum:
    digest = hashlib.sha256()
    rows = 0
    for table in sorted(projection.tables, key=lambda t: t.name):
        lines = sorted(
            orjson.dumps(table.decode_row(row), option=orjson.OPT_SORT_KEYS, default=_default)
            for row in await fetch(table.select_all_sql())
        )
        rows += len(lines)
        digest.update(f"{table.name}\n{len(lines)}\n".encode())
        for line in lines:
            digest.update(line)
            digest.update(b"\n")
    return ReadModelChecksum(projection.name, rows, digest.hexdigest())
