"""Turn an unhandled exception into the standard error body *inside* the middleware stack.

Starlette's own server-error handler sits outside every user middleware, so its
500s would miss the security headers and request id. This boundary is installed
innermost, and again around the modules' middleware: a Headwater error raised there
(a store that cannot be reached, say) gets its own status and shape, as it would from
a route; anything else is a server bug, a 500 logged with the request id.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable

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
        with an HTTP response, which the server would refuse as a protocol error."""
        # [accepted, closed]. The tracking send is a plain function returning the inner
        # send's awaitable: every fan-out frame passes here, and a coroutine layer per
        # frame per socket would cost more than the check.
        state = [False, False]

        def tracking_send(message: Message) -> Awaitable[None]:
            kind = message["type"]
            if kind != "websocket.send":
                if kind == "websocket.accept":
                    state[0] = True
                elif kind == "websocket.close" or kind.startswith("websocket.http."):
                    state[1] = True
            return send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            code, reason = websocket_close_for(exc)
            if code == WS_INTERNAL_ERROR:
                logger.exception("unhandled error on websocket %s", scope.get("path"))
            if state[1]:
                return  # closed already: nothing more may be sent
            try:
                if not state[0]:
                    # A close before the handshake is an HTTP 403 that carries no code.
                    await send({"type": "websocket.accept"})
                await send({"type": "websocket.close", "code": code, "reason": reason})
            except Exception:  # the client is gone: nothing left to tell it
                logger.debug("websocket %s: the close after an error failed", scope.get("path"))
