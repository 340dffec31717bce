"""What is limited, how much, and what happens when the shared counters are unreachable.

Tiers (seed 002's ``AdaptiveRateLimiter``) apply to every request of a caller;
endpoint limits (seed 002's ``EndpointLimits``) apply to one route template on top.
A burst is read as "at most ``burst`` requests within the time the average rate
needs to earn them" (``period * burst / limit``): login at 10/min burst 3 allows 3
within any 18 s and 10 within any 60 s. Both are moving windows, so no window of
either length ever holds more than its limit, on one node or on N.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from limits import RateLimitItem, RateLimitItemPerSecond

from headwater.identity._principal import Tier


class Outage(enum.StrEnum):
    """What a limit does while its Redis counters cannot be reached."""

    #: Let requests through: availability over the limit (reads, cheap routes).
    OPEN = "open"
    #: Refuse with 503: the limit protects something (logins against guessing).
    CLOSED = "closed"
    #: Count in this process instead: each node enforces the limit on its own.
    LOCAL = "local"


@dataclass(frozen=True, slots=True)
class TierLimit:
    per_minute: int
    concurrent: int


DEFAULT_TIERS: Mapping[Tier, TierLimit] = {
    "anonymous": TierLimit(per_minute=60, concurrent=5),
    "user": TierLimit(per_minute=200, concurrent=10),
    "premium": TierLimit(per_minute=1000, concurrent=50),
}


@dataclass(frozen=True, slots=True)
class EndpointLimit:
    #: ``"METHOD /path/template"``; a segment is ``*`` or ``{name}`` to match any one.
    route: str
    limit: int
    period: int = 60
    burst: int | None = None
    on_outage: Outage = Outage.OPEN
    #: Whose counter: ``"caller"`` (the principal, else the client address), or a
    #: credential the route itself checks, ``"header:<name>"`` or ``"segment:<n>"`` (the
    #: path's n-th segment, from 0): guests behind one venue address, or respondents on
    #: one public link, are told apart by what identifies them, not throttled as one IP.
    key: str = "caller"

    def __post_init__(self) -> None:
        kind, _, arg = self.key.partition(":")
        if not (self.key == "caller" or (kind == "header" and arg) or kind == "segment"):
            raise ValueError(f"rate limit key {self.key!r}: caller, header:<name>, segment:<n>")
        if kind == "segment" and not arg.isdigit():
            raise ValueError(f"rate limit key {self.key!r}: the segment is a number")

    def windows(self) -> tuple[RateLimitItem, ...]:
        """The burst window first (tighter, checked first), then the full period."""
        full = RateLimitItemPerSecond(self.limit, self.period)
        if self.burst is None or self.burst >= self.limit:
            return (full,)
        seconds = max(1, math.ceil(self.period * self.burst / self.limit))
        return (RateLimitItemPerSecond(self.burst, seconds), full)


#: Seed 002's table. A failed login limit fails closed: it guards passwords.
SEED_ENDPOINTS: tuple[EndpointLimit, ...] = (
    EndpointLimit("POST /api/auth/login", 10, burst=3, on_outage=Outage.CLOSED),
    EndpointLimit("GET /api/games/*/leaderboard", 30, burst=10),
    EndpointLimit("POST /api/games/*/play", 5, burst=2, on_outage=Outage.LOCAL),
    EndpointLimit("GET /api/events", 100, burst=20),
)


#: The framework's own routes: sign-in guards passwords, so it fails closed. Apps add
#: theirs through ``Module.endpoint_limits`` (QR Event declares the rest of the seed's).
FRAMEWORK_ENDPOINTS: tuple[EndpointLimit, ...] = (
    EndpointLimit("POST /auth/login", 10, burst=3, on_outage=Outage.CLOSED),
    EndpointLimit("POST /auth/session", 10, burst=3, on_outage=Outage.CLOSED),
)


@dataclass(frozen=True, slots=True)
class RateLimitConfig:
    tiers: Mapping[Tier, TierLimit] = field(default_factory=lambda: dict(DEFAULT_TIERS))
    endpoints: Sequence[EndpointLimit] = SEED_ENDPOINTS
    #: The tier limits' outage policy: stay up, each node counting for itself.
    tier_on_outage: Outage = Outage.LOCAL
    #: Paths never limited nor counted (probes, metrics), by prefix.
    exempt: Sequence[str] = ("/healthz", "/readyz", "/livez", "/metrics")
    #: Paths counted but not held against the concurrency cap (long-lived streams).
    unbounded: Sequence[str] = ("/realtime",)
    #: A concurrency slot left by a crashed node frees itself after this many seconds.
    lease_seconds: int = 300
    key_prefix: str = "hw:rl"
