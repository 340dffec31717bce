"""Authenticate every request once, before any route, and set the tenancy context.

The principal goes into ``scope["state"]["principal"]`` and into the tenancy context
variable for everything the request runs. Bad credentials do not fail the request
here: the error is kept in ``scope["state"]["auth_error"]`` and raised by the
principal dependency, so a public route still answers and a protected one gets a 401
in the standard error shape from the exception handlers. Meanwhile the request runs
as ``ANONYMOUS``: bad credentials never lend it a tenant. Credentials that cannot be
checked (the store is unreachable) get the standard 503 at once.

The authenticator is the one the security module put in ``runtime.authenticator``
at start-up; without it every request is anonymous.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, cast

from starlette.requests import Request, cookie_parser
from starlette.types import ASGIApp, Receive, Scope, Send

from headwater.errors import HeadwaterError, Unauthorized
from headwater.http._error_handlers import headwater_error_response
from headwater.identity._context import acting_as
from headwater.identity._principal import ANONYMOUS, Principal

if TYPE_CHECKING:
    from headwater.runtime import Runtime


def scope_runtime(scope: Scope) -> Runtime | None:
    """The runtime of the app serving ``scope`` (none before start-up)."""
    app = scope.get("app")
    return cast("Runtime | None", getattr(getattr(app, "state", None), "runtime", None))


def request_headers(scope: Scope) -> dict[str, str]:
    return {
        name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]
    }


def request_cookies(headers: Mapping[str, str]) -> dict[str, str]:
    raw = headers.get("cookie")
    return cookie_parser(raw) if raw else {}


class AuthenticationMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        principal: Principal = ANONYMOUS
        runtime = scope_runtime(scope)
        authenticator = None if runtime is None else runtime.authenticator
        if authenticator is not None:
            headers = request_headers(scope)
            try:
                principal = await authenticator.authenticate(headers, request_cookies(headers))
            except Unauthorized as exc:
                state["auth_error"] = exc
            except HeadwaterError as exc:
                # The credentials could not be checked at all (the session store is
                # unreachable): answer the standard 503 with Retry-After here. Raised,
                # it would escape the exception handlers, which sit inside this
                # middleware, as a bare 500; run as anonymous, the request would meet
                # anonymous limits and pages. A WebSocket authenticates on its own
                # (and closes with 1013), so it goes on and finds out there.
                if scope["type"] == "http":
                    response = await headwater_error_response(Request(scope), exc)
                    await response(scope, receive, send)
                    return
                state["auth_error"] = exc
        state["principal"] = principal
        with acting_as(principal):
            await self.app(scope, receive, send)
