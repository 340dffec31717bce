"""The one way Headwater talks to Redis: a client that fails fast, behind a Guard.

redis-py retries a failed command three times with backoff by default; for a cache
or a rate-limit counter that turns a dead Redis into seconds of latency per request.
Here the client does not retry and times out quickly, and a circuit breaker in front
of it refuses calls outright once Redis has failed a few times, so while Redis is
down a call costs a few comparisons. Callers decide what "down" means for them
(the cache computes from the read model; each rate limit follows its outage policy).
"""

from __future__ import annotations

from dataclasses import dataclass

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from headwater.errors import CallTimeout, CircuitOpen
from headwater.resilience._breaker import BreakerConfig, CircuitBreaker
from headwater.resilience._guard import Guard

#: What a Redis call may raise when Redis is unreachable, slow or refusing.
REDIS_DOWN: tuple[type[Exception], ...] = (RedisError, OSError, CircuitOpen, CallTimeout)


_BREAKER = BreakerConfig(failure_threshold=3, reset_timeout=2.0)


@dataclass(frozen=True, slots=True)
class RedisOptions:
    #: Seconds for one command; a cache read slower than this is worse than recomputing.
    timeout: float = 0.5
    #: Seconds for a connect (a handshake is several round trips).
    connect_timeout: float = 1.0
    #: Connections per process. The pool *waits* for a free one (up to
    #: ``connect_timeout``) rather than opening more: a burst of 200 concurrent
    #: requests on a cold node would otherwise open 200 connections at once, some
    #: of which time out, which the breaker would read as Redis being down.
    max_connections: int = 64
    breaker: BreakerConfig = _BREAKER


def connect_redis(url: str, options: RedisOptions | None = None) -> aioredis.Redis:
    """A redis-py asyncio client: no built-in retries, short timeouts, bytes replies."""
    options = options or RedisOptions()
    pool = aioredis.BlockingConnectionPool.from_url(
        url,
        max_connections=options.max_connections,
        timeout=options.connect_timeout,
        socket_timeout=options.timeout,
        socket_connect_timeout=options.connect_timeout,
        retry=Retry(NoBackoff(), 0),
        decode_responses=False,
    )
    client: aioredis.Redis = aioredis.Redis.from_pool(pool)  # closes the pool with it
    return client


def redis_guard(name: str = "redis", options: RedisOptions | None = None) -> Guard:
    """A breaker and a deadline for Redis calls; no retries (see the module doc)."""
    options = options or RedisOptions()
    return Guard(
        name,
        breaker=CircuitBreaker(name, options.breaker),
        timeout=options.timeout + options.connect_timeout,
    )
