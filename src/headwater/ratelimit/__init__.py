"""Rate limits: tiers, per-endpoint limits with bursts, concurrency caps, outage policies.

See ``config.py`` for what the numbers mean and ``middleware.py`` for the HTTP side.
"""

from __future__ import annotations

from headwater.ratelimit._config import (
    DEFAULT_TIERS,
    SEED_ENDPOINTS,
    EndpointLimit,
    Outage,
    RateLimitConfig,
    TierLimit,
)
from headwater.ratelimit._limiter import Decision, RateLimiter, RateLimitStats, describe_limits
from headwater.ratelimit._middleware import RateLimitMiddleware
from headwater.ratelimit._module import RateLimitModule
from headwater.ratelimit._storage import LimitStorage, MemoryLimitStorage, RedisLimitStorage

__all__ = [
    "DEFAULT_TIERS",
    "SEED_ENDPOINTS",
    "Decision",
    "EndpointLimit",
    "LimitStorage",
    "MemoryLimitStorage",
    "Outage",
    "RateLimitConfig",
    "RateLimitMiddleware",
    "RateLimitModule",
    "RateLimitStats",
    "RateLimiter",
    "RedisLimitStorage",
    "TierLimit",
    "describe_limits",
]
