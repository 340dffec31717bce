"""Turn an unhandled exception into the standard error body *inside* the middleware stack.

Starlette's own server-error handler sits outside every user middleware, so its
500s would miss the security headers and request id. This boundary is installed
innermost, and again around the modules' middleware: a Headwater error raised there
(a store that cannot be reached, say) gets its own status and shape, as it would from
a route; anything else is a server bug, a 500 logged with the request id.
"""

from __future__ import annotations

import logging

import orjson
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from headwater.errors import HeadwaterError
from headwater.http._error_handlers import (
    WS_INTERNAL_ERROR,
    headwater_error_response,
    websocket_close_for,
)
from headwater.http._responses import utc_timestamp

logger = logging.getLogger("headwater.http")


class ErrorBoundaryMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await self._websocket(scope, receive, send)
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except HeadwaterError as exc:
            if started:
                raise
            response = await headwater_error_response(Request(scope), exc)
            await response(scope, receive, send)
        except Exception:
            request_id = scope.get("state", {}).get("request_id")
            logger.exception(
                "unhandled error on %s %s (request %s)", scope["method"], scope["path"], request_id
            )
            if started:  # too late for a clean error: let the server drop the connection
                raise
            body = orjson.dumps(
                {
                    "success": False,
                    "error": {
                        "code": "internal_error",
                        "message": "the server failed to handle this",
                        "details": {},
                    },
                    "meta": {"timestamp": utc_timestamp(), "requestId": request_id},
                }
            )
            await send(
                {
                    "type": "http.response.start",
                    "status": 500,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        """An error on a WebSocket ends it with a close frame (1013, 1008, 1011), never
        with an HTTP response, which the server would refuse as a protocol error.

        ``send`` is passed through unwrapped: every fan-out frame goes through it, and
        a tracking layer would cost a coroutine per frame per socket. The server
        refuses (raises on) an accept or close out of order, so both are simply tried.
        """
        try:
            await self.app(scope, receive, send)
        except Exception as exc:
            code, reason = websocket_close_for(exc)
            if code == WS_INTERNAL_ERROR:
                logger.exception("unhandled error on websocket %s", scope.get("path"))
            # Accept first (refused if already accepted): a close before the handshake
            # is an HTTP 403 that carries no code.
            for message in (
                {"type": "websocket.accept"},
                {"type": "websocket.close", "code": code, "reason": reason},
            ):
                try:
                    await send(message)
                except Exception:  # out of order, or the client is gone
                    logger.debug("websocket %s: %s refused", scope.get("path"), message["type"])
