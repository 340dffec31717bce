"""The response envelope every route uses (seed 002, "API Response Patterns").

Success: ``{"success": true, "data": ..., "meta": {"timestamp": ...}}``; lists add
``"pagination": {"cursor": ..., "hasNext": ..., "limit": ...}``; errors are
``{"success": false, "error": {"code", "message", "details"}, "meta": ...}``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

T = TypeVar("T")


def utc_timestamp() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Meta(BaseModel):
    model_config = ConfigDict(extra="allow")

    timestamp: str = Field(default_factory=utc_timestamp)
    request_id: str | None = Field(default=None, serialization_alias="requestId")


class Envelope(BaseModel, Generic[T]):
    success: bool = True
    data: T
    meta: Meta = Field(default_factory=Meta)


class PageInfo(BaseModel):
    model_config = ConfigDict(validate_by_name=True, validate_by_alias=True)

    cursor: str | None = None
    has_next: bool = Field(default=False, serialization_alias="hasNext")
    limit: int


class Page(BaseModel, Generic[T]):
    success: bool = True
    data: list[T]
    pagination: PageInfo
    meta: Meta = Field(default_factory=Meta)


class ErrorDetail(BaseModel):
    code: str
    message: str
    details: dict[str, Any] = Field(default_factory=dict)


class ErrorBody(BaseModel):
    success: bool = False
    error: ErrorDetail
    meta: Meta = Field(default_factory=Meta)


def ok(data: T, **meta: Any) -> Envelope[T]:
    return Envelope[T](data=data, meta=Meta(**meta))


def page(items: list[T], *, cursor: str | None, limit: int, **meta: Any) -> Page[T]:
    return Page[T](
        data=items,
        pagination=PageInfo(cursor=cursor, has_next=cursor is not None, limit=limit),
        meta=Meta(**meta),
    )
