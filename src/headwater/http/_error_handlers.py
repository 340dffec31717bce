"""One mapping from Headwater's errors to HTTP statuses, and the handlers that apply it.

Every error response has the same shape (see ``responses.ErrorBody``) and a stable
code; unhandled exceptions get the same shape from ``middleware.error_boundary``.
Client input can never produce a 5xx: validation, parsing and size errors are 4xx,
and only a genuine server fault is a 500 (logged with the request id).
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.websockets import WebSocket, WebSocketState

from headwater import errors
from headwater.http._responses import ErrorBody, ErrorDetail, Meta

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


#: Seconds a client is told to wait after a 503 whose error does not say: a store
#: that cannot be reached usually answers again within seconds (a failover, a
#: restart), and every request's own deadline is a few seconds too.
UNAVAILABLE_RETRY_AFTER = 2


def retry_after_unavailable(error: errors.HeadwaterError) -> int:
    """The ``Retry-After`` of a 503: the error's own figure (a circuit breaker's), if any."""
    given = getattr(error, "retry_after", None)
    if isinstance(given, int | float) and not isinstance(given, bool) and math.isfinite(given):
        return max(1, math.ceil(given))
    return UNAVAILABLE_RETRY_AFTER


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
        error=ErrorDetail(code=code, message=_text(message), details=_jsonable(details or {})),
        meta=Meta(request_id=request_id_of(request)),
    )
    return Response(
        orjson.dumps(body.model_dump(mode="json", by_alias=True)),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


async def headwater_error_response(request: Request, exc: Exception) -> Response:
    """The standard response to a Headwater error: its status, code, message, headers."""
    assert isinstance(exc, errors.HeadwaterError)
    status = status_for(exc)
    if status >= 500:
        logger.error("server error %s: %s", exc.code, exc.message, exc_info=exc)
    headers = getattr(exc, "headers", None)
    if isinstance(exc, errors.RateLimited):
        headers = {"Retry-After": str(max(1, math.ceil(exc.retry_after))), **(headers or {})}
    if status == 503:
        headers = {"Retry-After": str(retry_after_unavailable(exc)), **(headers or {})}
    if isinstance(exc, errors.Unauthorized):
        headers = {"WWW-Authenticate": "Bearer", **(headers or {})}
    return error_response(request, status, exc.code, exc.message, exc.details, headers)


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


#: orjson's integer range: a larger one (e.g. a path parameter of 10**20 echoed in an
#: error's details) would fail serialisation and turn any 4xx into a 500.
_INT_LIMIT: Final = 2**63


def _text(value: str) -> str:
    """``value`` as valid UTF-8: a lone surrogate (``"\ud800"``) becomes its escape."""
    return value.encode("utf-8", "backslashreplace").decode("utf-8")


def _jsonable(value: Any, depth: int = 0) -> Any:
    """Anything an error may carry, made serialisable, so an error answer never fails.

    Big integers, bytes, text with lone surrogates, non-finite floats, odd keys and
    arbitrary objects all become plain JSON (ints beyond 64 bits and unknown objects as
    text); nesting is cut at a depth no real detail reaches.
    """
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if -_INT_LIMIT <= value < _INT_LIMIT else str(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, str):
        return _text(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", "backslashreplace")
    if depth >= 20:
        return "..."
    if isinstance(value, Mapping):
        return {_text(str(k)): _jsonable(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v, depth + 1) for v in value]
    return _text(str(value))


#: The errors any operation that takes input can answer, whatever its route declares:
#: a malformed body or an invalid identifier (``InvalidInput`` and its kin) is a 400,
#: a body over the size limit a 413, and a request that fails validation a 422 in
#: the one error shape (not FastAPI's default ``HTTPValidationError``).
INPUT_ERRORS: dict[str, str] = {
    "400": "Refused input: a malformed body, an invalid identifier or value",
    "422": "The request is not valid (details.errors lists each problem)",
}
BODY_ERRORS: dict[str, str] = {"413": "The request body is over the size limit"}


def _error_body_ref(schema: dict[str, Any]) -> dict[str, Any]:
    """A ``$ref`` to ``ErrorBody`` in the document's components, added if missing."""
    components: dict[str, Any] = schema.setdefault("components", {}).setdefault("schemas", {})
    if "ErrorBody" not in components:
        generated = ErrorBody.model_json_schema(
            ref_template="#/components/schemas/{model}", mode="serialization"
        )
        for name, definition in generated.pop("$defs", {}).items():
            components.setdefault(name, definition)
        components["ErrorBody"] = generated
    return {"$ref": "#/components/schemas/ErrorBody"}


def document_errors(schema: dict[str, Any]) -> dict[str, Any]:
    """Declare, on every operation, the error responses the handlers above can give it.

    Changes ``schema`` in place (and returns it): a response a route already declares
    is kept, except a 422 still in FastAPI's default shape, which becomes ``ErrorBody``.
    """
    content = {"application/json": {"schema": _error_body_ref(schema)}}
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses: dict[str, Any] = operation["responses"]
            has_body = "requestBody" in operation
            if not (operation.get("parameters") or has_body):
                continue
            wanted = {**INPUT_ERRORS, **(BODY_ERRORS if has_body else {})}
            for status, description in wanted.items():
                declared = responses.get(status)
                if declared is None:
                    responses[status] = {"description": description, "content": content}
                elif status == "422" and "HTTPValidationError" in str(declared):
                    declared["content"] = content
    return schema


#: WebSocket close codes (RFC 6455): the store (or another backend) cannot be reached
#: and the client should come back later; the server's policy refuses; a server bug.
WS_TRY_AGAIN_LATER: Final = 1013
WS_POLICY_VIOLATION: Final = 1008
WS_INTERNAL_ERROR: Final = 1011


def websocket_close_for(exc: BaseException) -> tuple[int, str]:
    """The close frame (code, reason) that ends a WebSocket on which ``exc`` was raised.

    A WebSocket scope has no HTTP response to send once it is past the handshake, so
    every error maps to a close code instead of a status: 1013 when a backend is
    unavailable or the caller is rate limited, 1008 for any other refusal (4xx), 1011
    for a bug. The reason is at most 123 bytes of UTF-8, as RFC 6455 allows.
    """
    if isinstance(exc, errors.StoreUnavailable | errors.RateLimited):
        code = WS_TRY_AGAIN_LATER
    elif isinstance(exc, RequestValidationError | StarletteHTTPException) or (
        isinstance(exc, errors.HeadwaterError) and status_for(exc) < 500
    ):
        code = WS_POLICY_VIOLATION
    elif isinstance(exc, errors.HeadwaterError):
        code = WS_INTERNAL_ERROR
    else:
        return WS_INTERNAL_ERROR, "internal error"
    message = exc.message if isinstance(exc, errors.HeadwaterError) else str(exc)
    return code, _text(message).encode()[:123].decode(errors="ignore")


async def close_websocket(websocket: WebSocket, exc: BaseException) -> None:
    """End a WebSocket on which ``exc`` was raised with its close code, never an HTTP
    response (uvicorn refuses ``http.response.start`` on a WebSocket scope)."""
    code, reason = websocket_close_for(exc)
    if code == WS_INTERNAL_ERROR:
        logger.error("websocket error on %s", websocket.scope.get("path"), exc_info=exc)
    with contextlib.suppress(Exception):  # the client may be gone already
        if websocket.client_state is WebSocketState.CONNECTING:
            # Accept first: a close before the handshake is an HTTP 403 without a code.
            await websocket.accept()
        await websocket.close(code, reason)


def _on_any_scope(
    handler: Callable[[Request, Exception], Awaitable[Response]],
) -> Callable[[Any, Exception], Awaitable[Any]]:
    """``handler`` for HTTP requests; a close frame for a WebSocket (Starlette hands
    exception handlers the ``WebSocket`` then, and would send their response on it)."""

    async def handle(conn: Any, exc: Exception) -> Response | None:
        if isinstance(conn, WebSocket):
            await close_websocket(conn, exc)
            return None
        return await handler(conn, exc)

    return handle


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(errors.HeadwaterError, _on_any_scope(headwater_error_response))
    app.add_exception_handler(RequestValidationError, _on_any_scope(_validation_error))
    app.add_exception_handler(StarletteHTTPException, _on_any_scope(_http_error))
    default_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_errors(default_openapi())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
