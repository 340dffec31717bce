"""The response envelope every route uses (seed 002, "API Response Patterns").

Success: ``{"success": true, "data": ..., "meta": {"timestamp": ...}}``; lists add
``"pagination": {"cursor": ..., "hasNext": ..., "limit": ...}`` (and ``total``,
``totalExact`` when asked with ``?total=true``); errors are
``{"success": false, "error": {"code", "message", "details"}, "meta": ...}``.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from headwater.cursors import Total

# The error body and ``meta`` live below the web layer (services write them too);
# routes import the whole envelope from here.
from headwater.envelope import ErrorBody as ErrorBody
from headwater.envelope import ErrorDetail as ErrorDetail
from headwater.envelope import Meta as Meta
from headwater.envelope import utc_timestamp as utc_timestamp

T = TypeVar("T")


class Envelope(BaseModel, Generic[T]):
    success: bool = True
    data: T
    meta: Meta = Field(default_factory=Meta)


class PageInfo(BaseModel):
    model_config = ConfigDict(validate_by_name=True, validate_by_alias=True)

    cursor: str | None = None
    has_next: bool = Field(default=False, serialization_alias="hasNext")
    limit: int
    #: Present when the client asked ``total=true``: the list's size, and whether it
    #: is exact or an estimate (``headwater.http._listing.count_rows``).
    total: int | None = None
    total_exact: bool | None = Field(default=None, serialization_alias="totalExact")


class Page(BaseModel, Generic[T]):
    success: bool = True
    data: list[T]
    pagination: PageInfo
    meta: Meta = Field(default_factory=Meta)


def ok(data: T, **meta: Any) -> Envelope[T]:
    return Envelope[T](data=data, meta=Meta(**meta))


def page(
    items: list[T], *, cursor: str | None, limit: int, total: Total | None = None, **meta: Any
) -> Page[T]:
    return Page[T](
        data=items,
        pagination=PageInfo(
            cursor=cursor,
            has_next=cursor is not None,
            limit=limit,
            total=None if total is None else total.count,
            total_exact=None if total is None else total.exact,
        ),
        meta=Meta(**meta),
    )
