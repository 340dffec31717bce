"""``JobsModule``: the queue, its workers and schedules, as one Headwater module.

Inside ``headwater serve`` the module's ``start`` launches the workers (and the
periodic scheduler) on the app's event loop; ``headwater worker`` runs the same
module with no HTTP app. Either way the job tables live in the event store's database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any, Final

from headwater.errors import SchemaNotMigrated, StoreUnavailable
from headwater.eventstore._protocol import EventStore
from headwater.jobs._metrics import JobStats, Listener
from headwater.jobs._periodic import Periodic, Scheduler
from headwater.jobs._queue import KeyFn, PayloadFn
from headwater.jobs._registry import HandlerFn, JobRegistry
from headwater.jobs._sqlqueue import SqlJobQueue
from headwater.jobs._worker import SpanFactory, Worker, WorkerOptions
from headwater.modules import Module
from headwater.runtime import Runtime

log = logging.getLogger(__name__)

_PRUNE_EVERY: Final = 3600.0


class JobsModule(Module):
    """Declare handlers, triggers and schedules here; ``start`` runs them.

    ``workers`` is the number of worker loops in this process (0: enqueue only, e.g.
    web nodes when dedicated ``headwater worker`` processes run the jobs); each runs
    up to ``options.concurrency`` jobs at once.
    """

    name = "jobs"
    version = "0.1.0"

    def __init__(
        self,
        registry: JobRegistry | None = None,
        *,
        workers: int = 1,
        options: WorkerOptions | None = None,
        periodic: Iterable[Periodic] = (),
        retention: timedelta | None = timedelta(days=7),
        listeners: Iterable[Listener] = (),
    ) -> None:
        self.registry = registry or JobRegistry()
        self.workers = workers
        self.options = options or WorkerOptions()
        self.periodic: list[Periodic] = list(periodic)
        self.retention = retention
        self.listeners: list[Listener] = [*listeners]
        self.stats_listener = JobStats()
        self._triggers: list[tuple[str, str, dict[str, Any]]] = []
        self.queue: SqlJobQueue | None = None
        self._workers: list[Worker] = []
        self._scheduler: Scheduler | None = None
        self._pruner: asyncio.Task[None] | None = None
        #: Makes each run's span; set from the observability module's at start.
        self.tracer: SpanFactory | None = None

    # --- declaring ------------------------------------------------------------------

    def handler(
        self, name: str, *, timeout: float | None = None
    ) -> Callable[[HandlerFn], HandlerFn]:
        return self.registry.handler(name, timeout=timeout)

    def on_event(
        self,
        event_type: str,
        name: str,
        *,
        payload: PayloadFn | None = None,
        dedupe_key: KeyFn | None = None,
        **options: Any,
    ) -> None:
        """Enqueue ``name`` atomically with every ``event_type`` event appended."""
        self._triggers.append(
            (event_type, name, {"payload": payload, "dedupe_key": dedupe_key, **options})
        )

    def every(self, name: str, seconds: timedelta | float, **kwargs: Any) -> None:
        self.periodic.append(Periodic(name, every=seconds, **kwargs))

    def cron(self, name: str, schedule: str, **kwargs: Any) -> None:
        self.periodic.append(Periodic(name, cron=schedule, **kwargs))

    # --- running --------------------------------------------------------------------

    async def migrate(self, store: EventStore) -> list[str]:
        """For ``headwater migrate``: create or upgrade the job tables."""
        return await SqlJobQueue(store).migrate()

    async def open(self, store: EventStore, *, auto_migrate: bool | None = None) -> SqlJobQueue:
        """Build the queue on ``store`` (migrating when allowed) and hook in the triggers."""
        queue = SqlJobQueue(store)
        if auto_migrate or (auto_migrate is None and store.dialect == "sqlite"):
            await queue.migrate()
        elif not await queue.is_current():
            raise SchemaNotMigrated(
                "the job tables are missing or old: run "
                "`headwater migrate` (or start once with HEADWATER_AUTO_MIGRATE=true)"
            )
        queue.listeners.extend([self.stats_listener, *self.listeners])
        for event_type, name, options in self._triggers:
            queue.enqueue_on(event_type, name, **options)
        queue.attach()
        self.queue = queue
        return queue

    async def start(self, runtime: Runtime) -> None:
        queue = await self.open(runtime.store, auto_migrate=runtime.settings.auto_migrate)
        runtime.jobs = queue
        if runtime.metrics is not None:
            # Observability runs: finished runs become metrics, runs become spans.
            queue.listeners.append(runtime.metrics.observe_job)
            self.tracer = runtime.metrics.timings.tracer
        await self.start_workers()

    async def start_workers(self, workers: int | None = None) -> None:
        """Start the worker loops, scheduler and pruner (after :meth:`open`)."""
        queue = self._require_queue()
        count = self.workers if workers is None else workers
        if count and len(self.registry):
            for _ in range(count):
                worker = Worker(queue, self.registry, self.options, tracer=self.tracer)
                await worker.start()
                self._workers.append(worker)
        elif count:
            log.info("jobs: no handlers registered; this node only enqueues")
        self._scheduler = Scheduler(queue, self.periodic)
        await self._scheduler.start()
        if self.retention is not None:
            self._pruner = asyncio.create_task(self._prune(self.retention), name="job pruner")

    async def stop(self, runtime: Runtime | None = None) -> None:
        """Graceful: schedules stop, running jobs finish (or are released)."""
        if self._pruner is not None:
            self._pruner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pruner
            self._pruner = None
        if self._scheduler is not None:
            await self._scheduler.stop()
            self._scheduler = None
        await asyncio.gather(*(worker.stop() for worker in self._workers))
        self._workers = []
        if self.queue is not None:
            self.queue.detach()
        if runtime is not None and runtime.jobs is self.queue:
            runtime.jobs = None

    async def stats(self) -> dict[str, Any]:
        """Queue depth by state (all nodes) and this process's counters."""
        queue = self._require_queue()
        return {
            "depth": await queue.depth(),
            "running_here": sum(worker.running for worker in self._workers),
            **self.stats_listener.snapshot(),
        }

    def _require_queue(self) -> SqlJobQueue:
        if self.queue is None:
            raise StoreUnavailable("the jobs module is not started")
        return self.queue

    async def _prune(self, retention: timedelta) -> None:
        queue = self._require_queue()
        while True:
            try:
                removed = await queue.prune(retention)
                if removed:
                    log.info("jobs: pruned %d finished jobs older than %s", removed, retention)
            except Exception as exc:
                log.warning("jobs: pruning failed (%s)", exc)
            await asyncio.sleep(_PRUNE_EVERY)
