"""``RateLimitModule``: the limiter and its middleware, with Redis counters when configured.

::

    app = create_app(settings, plugins=[SecurityModule(), RateLimitModule(config)])

List it after the security module: modules' middleware nest in list order, so the
principal is known by the time a request is counted. Counters are in memory without
``settings.redis_url`` and in Redis with it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from starlette.middleware import Middleware

from headwater.modules import Module
from headwater.ratelimit._config import RateLimitConfig
from headwater.ratelimit._limiter import RateLimiter
from headwater.ratelimit._middleware import RateLimitMiddleware
from headwater.ratelimit._storage import MemoryLimitStorage, RedisLimitStorage
from headwater.resilience._redis import RedisOptions
from headwater.runtime import Runtime


class RateLimitModule(Module):
    name: ClassVar[str] = "ratelimit"
    version: ClassVar[str] = "0.1.0"

    def __init__(
        self, config: RateLimitConfig | None = None, *, redis: RedisOptions | None = None
    ) -> None:
        # Built now because the middleware is added before start-up; start() swaps in
        # Redis storage once the settings (and so the URL) are known.
        self.limiter = RateLimiter(config or RateLimitConfig())
        self.redis = redis

    def middleware(self) -> Sequence[Middleware]:
        return (Middleware(RateLimitMiddleware, limiter=self.limiter),)

    async def start(self, runtime: Runtime) -> None:
        url = runtime.settings.redis_url
        if url is not None:
            self.limiter.storage = RedisLimitStorage(
                url, prefix=self.limiter.config.key_prefix, options=self.redis
            )
            self.limiter.local = MemoryLimitStorage()
        runtime.limiter = self.limiter

    async def stop(self, runtime: Runtime) -> None:
        await self.limiter.storage.aclose()
        if self.limiter.local is not self.limiter.storage:
            await self.limiter.local.aclose()
        if runtime.limiter is self.limiter:
            runtime.limiter = None
