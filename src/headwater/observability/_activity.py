"""Active users: distinct signed-in principals seen over a sliding window.

A pure ASGI middleware inside authentication's reads the principal it left in
``scope["state"]`` once the request is answered; anonymous callers are not users.
Kept per node and in memory: a gauge per node, which Prometheus sums or maxes
across nodes as the operator wants (a user on two nodes counts on each).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from starlette.types import ASGIApp, Receive, Scope, Send

#: Seconds a principal counts as active after its last request.
DEFAULT_WINDOW = 300.0
#: Beyond this many tracked principals the oldest are dropped first (memory bound).
MAX_TRACKED = 100_000


class ActiveUsers:
    def __init__(
        self, window: float = DEFAULT_WINDOW, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.window = window
        self._clock = clock
        #: subject -> last seen; insertion order is recency order (re-inserted on sight).
        self._seen: dict[str, float] = {}

    def saw(self, subject: str) -> None:
        self._seen.pop(subject, None)
        self._seen[subject] = self._clock()
        while len(self._seen) > MAX_TRACKED:
            del self._seen[next(iter(self._seen))]

    def count(self) -> int:
        horizon = self._clock() - self.window
        for subject, at in list(self._seen.items()):
            if at >= horizon:
                break  # the rest are more recent
            del self._seen[subject]
        return len(self._seen)


class ActiveUsersMiddleware:
    def __init__(self, app: ASGIApp, *, users: ActiveUsers) -> None:
        self.app = app
        self.users = users

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        # The same dict authentication fills in, further in.
        state = scope.setdefault("state", {})
        try:
            await self.app(scope, receive, send)
        finally:
            principal = state.get("principal")
            if principal is not None and getattr(principal, "is_authenticated", False):
                self.users.saw(str(principal.subject))
