"""Resilience for calls to dependencies: circuit breaker, retries, timeouts, bulkheads.

``Guard`` combines them for one dependency; ``connect_redis``/``redis_guard`` are what
the cache and the rate limiter use for Redis; ``outbound_client`` is the httpx
client for webhooks and any outbound call an app makes through the framework.
"""

from __future__ import annotations

from headwater.errors import BulkheadFull, CallTimeout, CircuitOpen, IllegalTransition
from headwater.resilience._breaker import (
    BreakerConfig,
    CircuitBreaker,
    CircuitState,
)
from headwater.resilience._bulkhead import Bulkhead
from headwater.resilience._egress import EgressPolicy, GuardedTransport, failure_reason
from headwater.resilience._guard import Guard, with_timeout
from headwater.resilience._outbound import OutboundPolicy, ResilientTransport, outbound_client
from headwater.resilience._redis import REDIS_DOWN, RedisOptions, connect_redis, redis_guard
from headwater.resilience._retry import NO_RETRY, RetryPolicy

__all__ = [
    "NO_RETRY",
    "REDIS_DOWN",
    "BreakerConfig",
    "Bulkhead",
    "BulkheadFull",
    "CallTimeout",
    "CircuitBreaker",
    "CircuitOpen",
    "CircuitState",
    "EgressPolicy",
    "Guard",
    "GuardedTransport",
    "IllegalTransition",
    "OutboundPolicy",
    "RedisOptions",
    "ResilientTransport",
    "RetryPolicy",
    "connect_redis",
    "failure_reason",
    "outbound_client",
    "redis_guard",
    "with_timeout",
]
