"""A bare ASGI app behind the rate-limit middleware, and principals to call it as."""

from __future__ import annotations

import asyncio

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from headwater.identity._principal import Principal, Role
from headwater.ratelimit import RateLimiter, RateLimitMiddleware

#: Requests to /slow wait on this (set by the test) so they stay in flight.
gate: dict[str, asyncio.Event] = {}


async def hello(request: Request) -> JSONResponse:
    return JSONResponse({"ok": True})


async def slow(request: Request) -> JSONResponse:
    await gate["slow"].wait()
    return JSONResponse({"ok": True})


ROUTES = [
    Route("/hello", hello),
    Route("/slow", slow),
    Route("/healthz", hello),
    Route("/api/auth/login", hello, methods=["POST"]),
    Route("/api/games/{game_id}/play", hello, methods=["POST"]),
    Route("/api/games/{game_id}/leaderboard", hello),
]

PRINCIPALS: dict[str, Principal] = {}


def principal(subject: str, tenant: str, tier: str = "user") -> Principal:
    found = Principal(
        subject=subject,
        tenant_id=tenant,
        roles=frozenset({Role.USER}),
        credential="access_token",
        tier=tier,  # type: ignore[arg-type]
    )
    PRINCIPALS[f"{tenant}/{subject}"] = found
    return found


class FakeAuthentication:
    """Stands in for the auth layer: the principal named by a test header."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        name = dict(scope["headers"]).get(b"x-test-principal")
        if name is not None:
            scope.setdefault("state", {})["principal"] = PRINCIPALS[name.decode()]
        await self.app(scope, receive, send)


def make_app(limiter: RateLimiter) -> ASGIApp:
    return FakeAuthentication(RateLimitMiddleware(Starlette(routes=ROUTES), limiter))


def client(app: ASGIApp, ip: str = "10.0.0.1") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(ip, 1234))
    return httpx.AsyncClient(transport=transport, base_url="http://test")


def as_(who: Principal) -> dict[str, str]:
    return {"x-test-principal": f"{who.tenant_id}/{who.subject}"}
