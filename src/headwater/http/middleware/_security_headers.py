"""Security headers on every response, built once with the ``secure`` library."""

from __future__ import annotations

import secure
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Same-origin everything; WebSockets to the same host; the door page may use the
# camera of this origin (QR scanning). No upgrade-insecure-requests: a plain-HTTP
# deployment behind a TLS proxy, or a local demo, must still load its own assets.
CSP = (
    secure.ContentSecurityPolicy()
    .default_src("'self'")
    .base_uri("'self'")
    .connect_src("'self'")
    .img_src("'self'", "data:", "blob:")
    .media_src("'self'", "blob:")
    .object_src("'none'")
    .script_src("'self'")
    .style_src("'self'")
    .frame_ancestors("'none'")
    .form_action("'self'")
)


def default_headers(*, hsts: bool) -> list[tuple[bytes, bytes]]:
    policy = secure.Secure(
        csp=CSP,
        hsts=secure.StrictTransportSecurity().max_age(31536000).include_subdomains()
        if hsts
        else None,
        xfo=secure.XFrameOptions().deny(),
        xcto=secure.XContentTypeOptions(),
        referrer=secure.ReferrerPolicy().strict_origin_when_cross_origin(),
        permissions=secure.PermissionsPolicy().geolocation().microphone().camera("'self'"),
        coop=secure.CrossOriginOpenerPolicy().same_origin(),
        corp=secure.CrossOriginResourcePolicy().same_origin(),
    )
    return [(k.lower().encode(), v.encode()) for k, v in policy.headers.items()]


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp, *, hsts: bool = True) -> None:
        self.app = app
        self._headers = default_headers(hsts=hsts)
        self._names = {name for name, _ in self._headers}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                # A route may set its own policy (e.g. a page that embeds); keep it.
                existing = message.get("headers", [])
                present = {name.lower() for name, _ in existing}
                extra = [(n, v) for n, v in self._headers if n not in present]
                message["headers"] = [*existing, *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)
