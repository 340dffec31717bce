"""Queries: a query bus, and a builder for safe read-model SQL.

Filters, time ranges, aggregates (count, sum, avg, min, max), day/month buckets,
grouping and keyset pagination, all from declared table columns and bound values:
no raw SQL strings, so no SQL injection by construction.
"""

from headwater.queries.bus import Query, QueryBus
from headwater.queries.cursor import Page, decode_cursor, encode_cursor, fetch_page
from headwater.queries.expressions import (
    Condition,
    avg,
    col,
    count,
    day,
    max_,
    min_,
    month,
    sum_,
)
from headwater.queries.select import Select, asc, desc

__all__ = [
    "Condition",
    "Page",
    "Query",
    "QueryBus",
    "Select",
    "asc",
    "avg",
    "col",
    "count",
    "day",
    "decode_cursor",
    "desc",
    "encode_cursor",
    "fetch_page",
    "max_",
    "min_",
    "month",
    "sum_",
]
