"""Refuse request bodies over a size limit with 413, before a handler reads them.

Checks ``Content-Length`` up front and counts streamed (chunked) bodies as they
arrive, so a client cannot bypass the limit by omitting the header.
"""

from __future__ import annotations

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

DEFAULT_MAX_BYTES = 1024 * 1024


def _too_large_body(limit: int) -> bytes:
    return orjson.dumps(
        {
            "success": False,
            "error": {
                "code": "payload_too_large",
                "message": f"the request body is larger than {limit} bytes",
                "details": {"limit": limit},
            },
        }
    )


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, *, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None:
            try:
                declared = int(length)
            except ValueError:
                declared = -1
            if declared < 0 or declared > self.max_bytes:
                await self._reject(send, 400 if declared < 0 else 413)
                return

        received = 0
        rejected = False
        started = False

        async def counting_receive() -> Message:
            # Past the limit we answer 413 ourselves and tell the app the client left:
            # raising here would be caught by the framework's body parsing and
            # reported as a malformed body instead.
            nonlocal received, rejected
            if rejected:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    rejected = True
                    if not started:
                        await self._reject(send, 413)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if rejected:
                return  # the 413 is the answer; drop whatever the app still sends
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not rejected:
                raise

    async def _reject(self, send: Send, status: int) -> None:
        if status == 413:
            body = _too_large_body(self.max_bytes)
        else:
            body = orjson.dumps(
                {
                    "success": False,
                    "error": {"code": "bad_request", "message": "invalid Content-Length"},
                }
            )
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
