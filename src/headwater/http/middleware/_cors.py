"""CORS by explicit allow-list: Starlette's CORSMiddleware, configured from the security config.

The allow-list is read when the first request arrives (the runtime, and with it the
configuration, exists only once the app has started). Without origins there is no
CORS at all, so browsers keep the same-origin policy. Credentials are allowed, which
is why the list can never hold ``*`` (``SecurityConfig`` refuses it).
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from headwater.http.middleware._authentication import scope_runtime

ALLOWED_HEADERS = (
    "authorization",
    "content-type",
    "idempotency-key",
    "if-none-match",
    "last-event-id",
    "x-api-key",
    "x-csrf-token",
    "x-request-id",
)
EXPOSED_HEADERS = ("etag", "retry-after", "x-request-id")


class AllowListCORSMiddleware:
    def __init__(self, app: ASGIApp, *, origins: Sequence[str] | None = None) -> None:
        self.app = app
        self._origins = None if origins is None else tuple(origins)
        self._handler: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            # Lifespan comes first, before the runtime (and its configuration) exists.
            await self.app(scope, receive, send)
            return
        if self._handler is None:
            self._handler = self._build(scope)
        await self._handler(scope, receive, send)

    def _build(self, scope: Scope) -> ASGIApp:
        origins = self._origins
        if origins is None:
            runtime = scope_runtime(scope)
            security = None if runtime is None else runtime.security
            origins = () if security is None else security.config.cors_origins
        if not origins:
            return self.app
        return CORSMiddleware(
            self.app,
            allow_origins=list(origins),
            allow_credentials=True,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=list(ALLOWED_HEADERS),
            expose_headers=list(EXPOSED_HEADERS),
            max_age=600,
        )
