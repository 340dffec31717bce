"""``CacheModule``: builds the node's ``Cache`` at start-up and registers it.

::

    app = create_app(settings, plugins=[CacheModule()])
    cache: Cache = runtime.require_cache()

L1 only when ``settings.redis_url`` is unset (the embedded default); L1 + L2 + the
cross-node invalidation channel when it is set.
"""

from __future__ import annotations

from typing import ClassVar

from headwater.cache._cache import Cache
from headwater.modules import Module
from headwater.resilience._redis import RedisOptions
from headwater.runtime import Runtime


class CacheModule(Module):
    name: ClassVar[str] = "cache"
    version: ClassVar[str] = "0.1.0"

    def __init__(
        self,
        *,
        serializer: str = "json",
        max_entries: int = 10_000,
        namespace: str = "hw:cache",
        redis: RedisOptions | None = None,
    ) -> None:
        self.serializer = serializer
        self.max_entries = max_entries
        self.namespace = namespace
        self.redis = redis
        self.cache: Cache | None = None

    async def start(self, runtime: Runtime) -> None:
        self.cache = Cache.from_url(
            runtime.settings.redis_url,
            serializer=self.serializer,
            max_entries=self.max_entries,
            namespace=self.namespace,
            options=self.redis,
        )
        await self.cache.start()
        runtime.cache = self.cache

    async def stop(self, runtime: Runtime) -> None:
        if self.cache is not None:
            await self.cache.aclose()
            if runtime.cache is self.cache:
                runtime.cache = None
            self.cache = None
