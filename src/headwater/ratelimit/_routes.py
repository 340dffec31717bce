"""Match a request to the endpoint limits declared for its route template.

The middleware runs before routing, so it matches templates itself. Keys use the
template, not the raw path: ``/api/games/1/play`` and ``/api/games/2/play`` share one
counter, so a caller cannot escape a limit by varying ids.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from headwater.errors import InvalidInput
from headwater.ratelimit._config import EndpointLimit

_SEGMENT = re.compile(r"^(\*|\{[A-Za-z_][A-Za-z0-9_]*(:path)?\})$")


def compile_route(route: str) -> tuple[str, re.Pattern[str]]:
    method, _, template = route.strip().partition(" ")
    if not template.startswith("/"):
        raise InvalidInput(f"rate limit route {route!r} must be 'METHOD /path'")
    parts = []
    for segment in template.strip("/").split("/"):
        if _SEGMENT.match(segment):
            parts.append(".+" if segment.endswith(":path}") else "[^/]+")
        else:
            parts.append(re.escape(segment))
    return method.upper(), re.compile("^/" + "/".join(parts) + "/?$")


class RouteTable:
    def __init__(self, limits: Sequence[EndpointLimit]) -> None:
        self._by_method: dict[str, list[tuple[re.Pattern[str], EndpointLimit]]] = {}
        for limit in limits:
            method, pattern = compile_route(limit.route)
            self._by_method.setdefault(method, []).append((pattern, limit))

    def match(self, method: str, path: str) -> list[EndpointLimit]:
        candidates = self._by_method.get(method)
        if not candidates:
            return []
        return [limit for pattern, limit in candidates if pattern.match(path)]
