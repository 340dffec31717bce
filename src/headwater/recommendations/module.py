"""``RecommendationsModule``: runs the item-item projection and serves the API.

::

    cache = CacheModule()
    app = create_app(settings, plugins=[cache, RecommendationsModule(cache=cache)])

The projection runs asynchronously beside the log (an interaction never waits for
the co-occurrence update); each commit invalidates the cached recommendations.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import ClassVar

from fastapi import APIRouter

from headwater.cache import Cache, CacheModule
from headwater.errors import StoreUnavailable
from headwater.modules import Module
from headwater.projections import ProjectionRunner
from headwater.recommendations.projection import DEFAULT_WINDOW, item_item_projection
from headwater.recommendations.recommender import Recommender
from headwater.recommendations.routes import build_router
from headwater.recommendations.tracker import InteractionTracker
from headwater.runtime import Runtime


class RecommendationsModule(Module):
    name: ClassVar[str] = "recommendations"
    version: ClassVar[str] = "0.1.0"

    def __init__(self, *, cache: CacheModule | None = None, window: int = DEFAULT_WINDOW) -> None:
        self._cache_module = cache
        self.projection = item_item_projection(window=window)
        self.runner: ProjectionRunner | None = None
        self.tracker: InteractionTracker | None = None
        self.recommender: Recommender | None = None

    def routers(self) -> Sequence[APIRouter]:
        return (build_router(self._tracker, self._recommender),)

    def _tracker(self) -> InteractionTracker:
        if self.tracker is None:
            raise StoreUnavailable("recommendations are not started")
        return self.tracker

    def _recommender(self) -> Recommender:
        if self.recommender is None:
            raise StoreUnavailable("recommendations are not started")
        return self.recommender

    async def start(self, runtime: Runtime) -> None:
        cache: Cache | None = None if self._cache_module is None else self._cache_module.cache
        self.runner = ProjectionRunner(
            runtime.store,
            self.projection,
            on_commit=None if cache is None else _invalidate(cache),
        )
        await self.runner.start()
        self.tracker = InteractionTracker(runtime.store)
        self.recommender = Recommender(runtime.store, cache=cache)

    async def stop(self, runtime: Runtime) -> None:
        if self.runner is not None:
            await self.runner.stop()
            self.runner = None
        self.tracker = self.recommender = None


def _invalidate(cache: Cache) -> Callable[[Sequence[str]], Awaitable[None]]:
    async def changed(tables: Sequence[str]) -> None:
        await cache.read_model_changed(*tables)

    return changed
