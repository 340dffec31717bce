"""The JSON shape of every error answer, and the ``meta`` every answer carries.

Pure data (pydantic), below the web layer: the rate limiter and the realtime
endpoints answer with Starlette directly, and they write the same error body as
the routes without importing ``headwater.http``, which sits above them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


def utc_timestamp() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Meta(BaseModel):
    model_config = ConfigDict(extra="allow")

    timestamp: str = Field(default_factory=utc_timestamp)
    request_id: str | None = Field(default=None, serialization_alias="requestId")


class ErrorDetail(BaseModel):
    code: str
    message: str
    details: dict[str, Any] = Field(default_factory=dict)


class ErrorBody(BaseModel):
    success: bool = False
    error: ErrorDetail
    meta: Meta = Field(default_factory=Meta)
