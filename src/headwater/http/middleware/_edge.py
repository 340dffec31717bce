"""The edge of the stack: request id, security headers, compression and the body limit as one layer.

These four were four middleware, each wrapping ``send`` (and the body limit ``receive``)
for every request; profiled, the chain of wrappers a response passed through was a
fifth of a cached GET. Here they share one pass: one ``send`` wrapper adds the request
id and the security headers, the compressor is put in front of it only when the client
negotiated an encoding, and ``receive`` is counted only when the request can carry a
body (a ``Content-Length`` or a ``Transfer-Encoding``: HTTP/1.1 has no other way to
send one). Each concern keeps its own module and class (``RequestIdMiddleware``,
``SecurityHeadersMiddleware``, ``CompressionMiddleware``, ``BodyLimitMiddleware``),
whose behaviour this layer reproduces, in that same order from the outside in.
"""

from __future__ import annotations

import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from headwater.http.middleware._body_limit import DEFAULT_MAX_BYTES, BodyLimitMiddleware
from headwater.http.middleware._compression import (
    _Responder,
    available_encodings,
    choose_encoding,
)
from headwater.http.middleware._request_id import _SAFE, HEADER
from headwater.http.middleware._security_headers import default_headers


class EdgeMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        hsts: bool = True,
        max_bytes: int = DEFAULT_MAX_BYTES,
        minimum_size: int = 500,
    ) -> None:
        self.app = app
        self._headers = default_headers(hsts=hsts)
        self._names = frozenset(name for name, _ in self._headers)
        self._minimum = minimum_size
        self._encoders = available_encodings()
        self._offered = list(self._encoders)
        # The body limit's own logic, around the app, for requests that carry a body.
        self._limited = BodyLimitMiddleware(app, max_bytes=max_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        given: bytes | None = None
        accept: bytes | None = None
        has_body = False
        for name, value in scope["headers"]:
            if name == HEADER:
                given = value
            elif name == b"accept-encoding":
                accept = value
            elif name in (b"content-length", b"transfer-encoding"):
                has_body = True
        request_id = given.decode() if given and _SAFE.match(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        if kind == "websocket":
            # Nothing to add to a WebSocket's frames; wrapping send would cost each one.
            await self.app(scope, receive, send)
            return
        extra = [(HEADER, request_id.encode()), *self._headers]
        names = self._names

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                # A route may set its own policy (e.g. a page that embeds); keep it.
                existing = message.get("headers", [])
                present = {name.lower() for name, _ in existing}
                if present.isdisjoint(names):
                    message["headers"] = [*existing, *extra]
                else:
                    message["headers"] = [
                        *existing,
                        extra[0],
                        *(pair for pair in extra[1:] if pair[0] not in present),
                    ]
            await send(message)

        outgoing: Send = send_with_headers
        if accept:
            encoding = choose_encoding(accept.decode("latin-1"), self._offered)
            if encoding is not None:
                make = self._encoders[encoding]
                outgoing = _Responder(send_with_headers, encoding, make, self._minimum).send
        inner = self._limited if has_body else self.app
        await inner(scope, receive, outgoing)
