"""Portable SQL statements for read models and checkpoints.

Headwater's SQL uses ``?`` placeholders everywhere; the PostgreSQL backend rewrites
them to psycopg's ``%s`` (and escapes literal ``%``) outside string literals.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any


@dataclass(frozen=True, slots=True)
class Statement:
    """One SQL statement with its parameters; ``many`` runs it once per row in ``params``."""

    sql: str
    params: Sequence[Any] = ()
    many: bool = False

    @classmethod
    def executemany(cls, sql: str, rows: Sequence[Sequence[Any]]) -> Statement:
        return cls(sql, rows, many=True)


@lru_cache(maxsize=1024)
def qmark_to_pyformat(sql: str) -> str:
    """Rewrite ``?`` placeholders as ``%s`` and ``%`` as ``%%``, leaving quoted text alone."""
    out: list[str] = []
    quote: str | None = None
    for char in sql:
        if quote is not None:
            out.append("%%" if char == "%" else char)
            if char == quote:
                quote = None
        elif char in ("'", '"'):
            quote = char
            out.append(char)
        elif char == "?":
            out.append("%s")
        elif char == "%":
            out.append("%%")
        else:
            out.append(char)
    return "".join(out)


def stream_page_sql(
    columns: str, from_version: int | None, backwards: bool, tenant_id: str | None
) -> tuple[str, list[Any]]:
    """One page of a stream, as ``?`` SQL ending in ``LIMIT ?`` and its parameters
    after the stream id (the caller adds the id first and the limit last)."""
    sql = f"SELECT {columns} FROM hw_events WHERE stream_id = ?"
    params: list[Any] = []
    if from_version is not None:
        sql += " AND version <= ?" if backwards else " AND version >= ?"
        params.append(from_version)
    if tenant_id is not None:
        # Every event of a stream has its first event's tenant (appends check it).
        sql += " AND tenant_id = ?"
        params.append(tenant_id)
    sql += " ORDER BY version DESC LIMIT ?" if backwards else " ORDER BY version LIMIT ?"
    return sql, params
