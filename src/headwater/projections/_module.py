"""``ProjectionsModule``: the runtime's projections, registered once by each app.

An app calls ``runtime.require_projections().add(projection)`` in its ``start``.
Inline projections are attached to every append; async ones get a runner that
starts now and stops with the node, and whose commits tell the cache which
read-model tables changed, so cached reads built from them are dropped on every node.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from headwater.errors import UnknownProjection
from headwater.eventstore import EventStore
from headwater.modules import Module
from headwater.projections._inline import attach_inline
from headwater.projections._projection import Projection
from headwater.projections._runner import OnCommit, ProjectionRunner, RunnerOptions
from headwater.projections._schema import migrate_projections
from headwater.projections._status import ProjectionStatus, projection_status
from headwater.projections.rebuild import ProgressCallback, RebuildResult, rebuild
from headwater.runtime import Runtime


class Projections:
    """The projections of one node; ``runners`` are its async ones, by name."""

    def __init__(self, store: EventStore, on_commit: OnCommit | None) -> None:
        self.store = store
        self.on_commit = on_commit
        self.runners: dict[str, ProjectionRunner] = {}
        self.inline: dict[str, Projection] = {}

    async def add(self, projection: Projection, options: RunnerOptions | None = None) -> None:
        if projection.mode == "inline":
            await attach_inline(self.store, [projection])
            self.inline[projection.name] = projection
            return
        runner = ProjectionRunner(self.store, projection, options, on_commit=self.on_commit)
        await runner.prepare()
        await runner.start()
        self.runners[projection.name] = runner

    def know(self, projections: Sequence[Projection]) -> None:
        """Register projections an app attached itself (inline ones it detaches on
        stop), so status reports their exact lag and the dashboard can rebuild them."""
        for projection in projections:
            if projection.mode == "inline":
                self.inline[projection.name] = projection

    def find(self, name: str) -> Projection:
        if name in self.inline:
            return self.inline[name]
        if name in self.runners:
            return self.runners[name].projection
        raise UnknownProjection(name)

    async def rebuild(
        self, name: str, *, progress: ProgressCallback | None = None
    ) -> RebuildResult:
        """Rebuild a projection of this node from the log and swap it in (see
        ``rebuild``); cached reads of its tables are dropped once the swap is done."""
        projection = self.find(name)
        result = await rebuild(self.store, projection, progress=progress)
        if self.on_commit is not None:
            await self.on_commit([table.name for table in projection.tables])
        return result

    async def catch_up(self, names: Sequence[str] | None = None) -> None:
        """Wait until the named async projections (all by default) reflect the log's head."""
        head = await self.store.head_position()
        for name, runner in self.runners.items():
            if names is None or name in names:
                await runner.wait_for(head)

    async def status(self) -> list[ProjectionStatus]:
        """Position, lag, state and last error of this node's projections."""
        return await projection_status(
            self.store, [*self.inline.values(), *(r.projection for r in self.runners.values())]
        )

    async def stop(self) -> None:
        for runner in self.runners.values():
            await runner.stop()
        self.runners.clear()


class ProjectionsModule(Module):
    name: ClassVar[str] = "projections"
    version: ClassVar[str] = "0.1.0"

    async def migrate(self, store: EventStore) -> list[str]:
        return await migrate_projections(store)

    async def start(self, runtime: Runtime) -> None:
        await migrate_projections(runtime.store)
        cache = runtime.cache

        async def tables_changed(tables: Sequence[str]) -> None:
            if cache is not None:
                await cache.read_model_changed(*tables)

        runtime.projections = Projections(runtime.store, tables_changed)

    async def stop(self, runtime: Runtime) -> None:
        projections, runtime.projections = runtime.projections, None
        if projections is not None:
            await projections.stop()
