"""A session cookie without its CSRF token gives an unsafe request no authority.

Only requests the authentication middleware (installed outside this one) resolved
through the session cookie are checked: a browser attaches cookies to cross-site
requests on its own, but never an ``Authorization`` or ``X-API-Key`` header, so
bearer and API-key requests need no token. The token is the session's HMAC (see
``security.cookies``), sent back in the ``X-CSRF-Token`` header.

Without it, the request continues as anonymous, with ``csrf_failed`` as its auth
error: every route that needs the caller answers 403 ``csrf_failed``, code below the
routes sees no tenant, and a route that needs nobody (``POST /auth/login`` from a
browser that still holds an old cookie) works as it would without the cookie.

A WebSocket handshake cannot carry that header, so a cookie-authenticated one must
instead come from an allowed origin (this host or the CORS allow-list); a foreign
page opening a socket with the user's cookie is refused before it is accepted.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

from headwater.errors import CsrfFailed
from headwater.http.middleware._authentication import request_headers, scope_runtime
from headwater.identity._context import acting_as
from headwater.identity._principal import ANONYMOUS, Principal

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


class CsrfMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        principal = scope.get("state", {}).get("principal")
        runtime = scope_runtime(scope)
        security = None if runtime is None else runtime.security
        if (
            not isinstance(principal, Principal)
            or principal.credential != "session"
            or security is None
        ):
            await self.app(scope, receive, send)
            return
        headers = request_headers(scope)
        if scope["type"] == "http" and scope["method"] not in SAFE_METHODS:
            session_id = principal.claims.get("sid")
            presented = headers.get(security.config.csrf_header)
            if not isinstance(session_id, str) or not security.cookies.csrf_matches(
                session_id, presented
            ):
                state = scope["state"]
                state["principal"] = ANONYMOUS
                state["auth_error"] = CsrfFailed(
                    "this request needs the session's CSRF token in the "
                    f"{security.config.csrf_header} header"
                )
                with acting_as(ANONYMOUS):
                    await self.app(scope, receive, send)
                return
        if scope["type"] == "websocket" and not _origin_allowed(
            headers, security.config.cors_origins
        ):
            await send({"type": "websocket.close", "code": 4403, "reason": "origin not allowed"})
            return
        await self.app(scope, receive, send)


def _origin_allowed(headers: dict[str, str], allowed: tuple[str, ...]) -> bool:
    origin = headers.get("origin")
    if origin is None:
        return True  # not a browser: it cannot have been tricked into sending the cookie
    if origin in allowed:
        return True
    return urlsplit(origin).netloc == headers.get("host")
