"""One mapping from Headwater's errors to HTTP statuses, and the handlers that apply it.

Every error response has the same shape (see ``responses.ErrorBody``) and a stable
code; unhandled exceptions get the same shape from ``middleware.error_boundary``.
Client input can never produce a 5xx: validation, parsing and size errors are 4xx,
and only a genuine server fault is a 500 (logged with the request id).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from headwater import errors
from headwater.http.responses import ErrorBody, ErrorDetail, Meta

logger = logging.getLogger("headwater.http")

#: Checked most-specific first: the first class an error is an instance of wins.
STATUS_BY_ERROR: tuple[tuple[type[errors.HeadwaterError], int], ...] = (
    (errors.UnknownBackend, 500),
    (errors.InvalidInput, 400),
    (errors.ConcurrencyError, 409),
    (errors.DuplicateEventId, 409),
    (errors.NotFound, 404),
    (errors.Unauthorized, 401),
    (errors.Forbidden, 403),
    (errors.RateLimited, 429),
    (errors.StoreUnavailable, 503),
)

CODE_BY_STATUS: dict[int, str] = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    412: "precondition_failed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_failed",
    429: "rate_limited",
    500: "internal_error",
    503: "unavailable",
}


def status_for(error: errors.HeadwaterError) -> int:
    status = getattr(error, "http_status", None)
    if isinstance(status, int):
        return status
    for cls, code in STATUS_BY_ERROR:
        if isinstance(error, cls):
            return code
    return 500


def request_id_of(request: Request) -> str | None:
    value = request.scope.get("state", {}).get("request_id")
    return value if isinstance(value, str) else None


def error_response(
    request: Request,
    status: int,
    code: str,
    message: str,
    details: dict[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    body = ErrorBody(
        error=ErrorDetail(code=code, message=message, details=details or {}),
        meta=Meta(request_id=request_id_of(request)),
    )
    return Response(
        orjson.dumps(body.model_dump(mode="json", by_alias=True)),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


async def _headwater_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, errors.HeadwaterError)
    status = status_for(exc)
    if status >= 500:
        logger.error("server error %s: %s", exc.code, exc.message, exc_info=exc)
    headers = getattr(exc, "headers", None)
    if isinstance(exc, errors.RateLimited):
        headers = {"Retry-After": str(max(1, math.ceil(exc.retry_after))), **(headers or {})}
    if isinstance(exc, errors.Unauthorized):
        headers = {"WWW-Authenticate": "Bearer", **(headers or {})}
    return error_response(request, status, exc.code, exc.message, _jsonable(exc.details), headers)


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    problems = [
        {"loc": [str(p) for p in e.get("loc", ())], "msg": e.get("msg", ""), "type": e.get("type")}
        for e in exc.errors()
    ]
    return error_response(
        request, 422, "validation_failed", "the request is not valid", {"errors": problems}
    )


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    code = CODE_BY_STATUS.get(exc.status_code, "error")
    message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
    return error_response(request, exc.status_code, code, message, headers=exc.headers)


def _jsonable(details: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = orjson.loads(orjson.dumps(details, default=str))
    return out


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(errors.HeadwaterError, _headwater_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
