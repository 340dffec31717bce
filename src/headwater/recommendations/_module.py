"""``RecommendationsModule``: runs the item-item projection and serves the API.

::

    cache = CacheModule()
    app = create_app(settings, plugins=[cache, RecommendationsModule(cache=cache)])

The projection runs asynchronously beside the log (an interaction never waits for
the co-occurrence update); each commit invalidates the cached recommendations.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import ClassVar, Final

from fastapi import APIRouter

from headwater.cache import Cache, CacheModule
from headwater.errors import InvalidInput, StoreUnavailable
from headwater.eventstore._protocol import EventStore
from headwater.jobs import Job, JobsModule
from headwater.modules import Module
from headwater.projections import ProjectionRunner
from headwater.recommendations._als import (
    ALS_TABLES,
    AlsModel,
    AlsOptions,
    AlsTrainer,
    als_available,
    create_tables,
)
from headwater.recommendations._projection import (
    DEFAULT_NEIGHBOURS,
    DEFAULT_WINDOW,
    InteractionSource,
    item_item_projection,
)
from headwater.recommendations._recommender import ModelChoice, Recommender
from headwater.recommendations._routes import build_router
from headwater.recommendations._tables import ITEM_STATS
from headwater.recommendations._tracker import InteractionTracker
from headwater.runtime import Runtime

#: The periodic job that retrains ALS from the log.
ALS_JOB: Final = "recommendations.als_retrain"


class RecommendationsModule(Module):
    name: ClassVar[str] = "recommendations"
    version: ClassVar[str] = "0.1.0"

    def __init__(
        self,
        *,
        cache: CacheModule | None = None,
        window: int = DEFAULT_WINDOW,
        neighbours: int = DEFAULT_NEIGHBOURS,
        models: Mapping[str, ModelChoice] | None = None,
        default_model: ModelChoice = "item_item",
        als_every: float | None = None,
        als_options: AlsOptions | None = None,
        sources: Mapping[str, InteractionSource] | None = None,
    ) -> None:
        """``models``/``default_model`` choose ALS, item-item or a blend per tenant;
        ``als_every`` (seconds) schedules the ALS retraining job (needs the
        ``recommendations-als`` extra and a :class:`~headwater.jobs.JobsModule`)."""
        self._cache_module = cache
        self.neighbours = neighbours
        self.projection = item_item_projection(
            window=window, neighbours=neighbours, sources=sources
        )
        self.models = dict(models or {})
        self.default_model: ModelChoice = default_model
        self.als_every = als_every
        self.als_options = als_options
        self.trainer: AlsTrainer | None = None
        self._store: EventStore | None = None
        self.runner: ProjectionRunner | None = None
        self.tracker: InteractionTracker | None = None
        self.recommender: Recommender | None = None

    def routers(self) -> Sequence[APIRouter]:
        return (build_router(self.require_tracker, self.require_recommender),)

    def require_tracker(self) -> InteractionTracker:
        if self.tracker is None:
            raise StoreUnavailable("recommendations are not started")
        return self.tracker

    def require_recommender(self) -> Recommender:
        if self.recommender is None:
            raise StoreUnavailable("recommendations are not started")
        return self.recommender

    def declare_jobs(self, jobs: JobsModule) -> None:
        if self.als_every is None:
            return
        if not als_available():
            raise InvalidInput(
                "ALS needs the recommendations-als extra: "
                "pip install 'headwater[recommendations-als]'"
            )
        jobs.handler(ALS_JOB)(self._retrain)
        jobs.every(ALS_JOB, self.als_every)

    async def _retrain(self, job: Job) -> None:
        """Retrain every tenant that has interactions and does not use item-item only."""
        if self.trainer is None or self._store is None:
            raise StoreUnavailable("recommendations are not started")
        rows = await self._store.fetchall(f"SELECT DISTINCT tenant_id FROM {ITEM_STATS.ref}")
        for (tenant,) in rows:
            if self.models.get(tenant, self.default_model) != "item_item":
                await self.trainer.train(tenant or None)
        if self._cache_module is not None and self._cache_module.cache is not None:
            await self._cache_module.cache.read_model_changed(*(t.name for t in ALS_TABLES))

    async def start(self, runtime: Runtime) -> None:
        self._store = runtime.store
        cache: Cache | None = None if self._cache_module is None else self._cache_module.cache
        self.runner = ProjectionRunner(
            runtime.store,
            self.projection,
            on_commit=None if cache is None else _invalidate(cache),
        )
        await self.runner.start()
        self.tracker = InteractionTracker(runtime.store)
        als = None
        if self.als_every is not None or self.default_model != "item_item" or self.models:
            await create_tables(runtime.store)
            self.trainer = AlsTrainer(runtime.store, self.als_options)
            als = AlsModel(runtime.store)
        self.recommender = Recommender(
            runtime.store,
            cache=cache,
            neighbours=self.neighbours,
            als=als,
            models=self.models,
            default_model=self.default_model,
        )

    async def stop(self, runtime: Runtime) -> None:
        if self.runner is not None:
            await self.runner.stop()
            self.runner = None
        self.tracker = self.recommender = None


def _invalidate(cache: Cache) -> Callable[[Sequence[str]], Awaitable[None]]:
    async def changed(tables: Sequence[str]) -> None:
        await cache.read_model_changed(*tables)

    return changed
