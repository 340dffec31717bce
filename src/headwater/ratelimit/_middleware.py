"""ASGI middleware: refuse over-limit requests with 429 (or 503), describe limits in headers.

Install it inside the authentication middleware (the principal must be in
``scope["state"]["principal"]`` already; without one the caller is anonymous, keyed
by client address). Every limited response carries ``RateLimit-Limit``,
``RateLimit-Remaining``, ``RateLimit-Reset`` and ``RateLimit-Policy`` (IETF
httpapi-ratelimit-headers draft); a refusal adds ``Retry-After`` and the standard
error body. The concurrency slot is released when the response has finished (or the
client went away), not when the handler returns a response object.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from headwater.envelope import ErrorBody, ErrorDetail, Meta
from headwater.identity._principal import ANONYMOUS, Principal
from headwater.ratelimit._limiter import Decision, RateLimiter

_MESSAGES = {
    429: ("rate_limited", "too many requests: slow down and retry after the given seconds"),
    503: ("unavailable", "rate limiting is unavailable and this route fails closed"),
}


class _LazyHeaders(Mapping[str, str]):
    """The request's headers as text, decoded only if a limit keyed by a header asks:
    most requests match no such limit, and decoding every header was a measurable
    part of a limited request."""

    __slots__ = ("_decoded", "_raw")

    def __init__(self, raw: list[tuple[bytes, bytes]]) -> None:
        self._raw = raw
        self._decoded: dict[str, str] | None = None

    def _all(self) -> dict[str, str]:
        if self._decoded is None:
            self._decoded = {k.decode("latin-1"): v.decode("latin-1") for k, v in self._raw}
        return self._decoded

    def __getitem__(self, key: str) -> str:
        return self._all()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())


class RateLimitMiddleware:
    def __init__(self, app: ASGIApp, limiter: RateLimiter) -> None:
        self.app = app
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.limiter.exempt(scope["path"]):
            await self.app(scope, receive, send)
            return
        state = scope.get("state") or {}
        principal = state.get("principal")
        if not isinstance(principal, Principal):
            principal = ANONYMOUS
        client = scope.get("client")
        headers = _LazyHeaders(scope["headers"])
        decision = await self.limiter.check(
            principal, scope["method"], scope["path"], client[0] if client else None, headers
        )
        if not decision.allowed:
            await _refuse(scope, send, decision)
            return
        extra = decision.headers()

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        lease = decision.lease
        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            if lease is not None:
                await self.limiter.release(lease)


async def _refuse(scope: Scope, send: Send, decision: Decision) -> None:
    code, message = _MESSAGES[decision.status]
    request_id = (scope.get("state") or {}).get("request_id")
    body = ErrorBody(
        error=ErrorDetail(
            code=code,
            message=message,
            details={"retry_after": decision.retry_after, "limit": decision.reason},
        ),
        meta=Meta(request_id=request_id if isinstance(request_id, str) else None),
    )
    payload = orjson.dumps(body.model_dump(mode="json", by_alias=True))
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
        *decision.headers(),
    ]
    await send({"type": "http.response.start", "status": decision.status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
