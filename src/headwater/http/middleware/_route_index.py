"""Find a request's route among the few that could match, not by trying all of them.

Starlette's router tries every route in order, each with a regular expression (and,
in recent FastAPI, a scope lookup of its own): with Headwater's ~50 routes that was
about 20 % of a cached GET, spent mostly on routes that could never match. The
index groups the routes by the literal first segment of their path; a request is
tried against its segment's routes and those whose first segment is a parameter
(or that have no plain path), *in the router's own order*, so the first full match
is the one the router would pick.

Anything else goes to the router itself, unchanged: no full match among the
candidates (a 404, a 405, a trailing-slash redirect, a low-priority route), a
``root_path``, a child scope carrying FastAPI's own keys, or FastAPI's telemetry
(which wants to hear of the selection). So the index can only ever take a shortcut to
the answer the router gives.
"""

from __future__ import annotations

from typing import Any

from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Receive, Scope, Send

_WILDCARD = object()


def _first_segment(route: BaseRoute) -> object:
    path = getattr(route, "path", None)
    if not isinstance(path, str) or not path.startswith("/"):
        return _WILDCARD  # a Host, a root Mount: no literal prefix to go by
    segment = path[1:].partition("/")[0]
    return _WILDCARD if "{" in segment else segment


class RouteIndex:
    """Stands in for a router's dispatch (``router.middleware_stack``)."""

    def __init__(self, router: Any, fallback: ASGIApp) -> None:
        self.router = router
        self.fallback = fallback
        self._built_for: tuple[int, int] | None = None
        self._by_segment: dict[str, list[BaseRoute]] = {}
        self._wildcards: list[BaseRoute] = []

    def _build(self, routes: list[BaseRoute]) -> None:
        segments = {_first_segment(route) for route in routes} - {_WILDCARD}
        self._by_segment = {
            str(seg): [r for r in routes if _first_segment(r) in (seg, _WILDCARD)]
            for seg in segments
        }
        self._wildcards = [r for r in routes if _first_segment(r) is _WILDCARD]
        self._built_for = (id(routes), len(routes))

    def candidates(self, path: str) -> list[BaseRoute]:
        routes = self.router.routes
        if self._built_for != (id(routes), len(routes)):
            self._build(routes)  # routes added after start-up (tests do): index again
        return self._by_segment.get(path[1:].partition("/")[0], self._wildcards)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] not in ("http", "websocket")
            or scope.get("root_path")
            or scope.get("fastapi.telemetry") is not None
            or getattr(self.router, "form_limits", None)
        ):
            await self.fallback(scope, receive, send)
            return
        for route in self.candidates(scope["path"]):
            match, child_scope = route.matches(scope)
            if match is Match.FULL:
                if "fastapi" in child_scope:
                    break  # FastAPI merges its own keys; let the router do it
                scope.setdefault("router", self.router)
                scope.update(child_scope)
                await route.handle(scope, receive, send)
                return
        await self.fallback(scope, receive, send)


def install_route_index(app: Any) -> None:
    """Put the index in front of ``app``'s router, unless the router has middleware of its own."""
    router = app.router
    if router.middleware_stack == router.app:
        router.middleware_stack = RouteIndex(router, router.app)
