"""Rate limits: tiers, per-endpoint limits with bursts, concurrency caps, outage policies.

See ``config.py`` for what the numbers mean and ``middleware.py`` for the HTTP side.
"""

from __future__ import annotations

from headwater.ratelimit.config import (
    DEFAULT_TIERS,
    SEED_ENDPOINTS,
    EndpointLimit,
    Outage,
    RateLimitConfig,
    TierLimit,
)
from headwater.ratelimit.limiter import Decision, RateLimiter, RateLimitStats, describe_limits
from headwater.ratelimit.middleware import RateLimitMiddleware
from headwater.ratelimit.module import RateLimitModule
from headwater.ratelimit.storage import LimitStorage, MemoryLimitStorage, RedisLimitStorage

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
