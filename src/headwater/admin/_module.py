"""``AdminModule``: the dashboard at ``/admin`` that every Headwater app gets.

It serves the page and the node views it reads (``routes``), samples the node's
figures for the charts (``series.NodeSeries``), and puts the latest sample in the
``metrics.updated`` notices the realtime hub sends to followed admin feeds, so the
charts move without polling. Alerts reach every tenant's admin feed as
``system.alert`` notices (it sets ``runtime.alerts``).
Apps add their own tables, charts and review queues with ``Module.admin_panels()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any, ClassVar

from fastapi import APIRouter

from headwater.admin._panels import Panel
from headwater.admin._routes import build_router
from headwater.admin._series import NodeSeries
from headwater.errors import RebuildInProgress, StoreUnavailable
from headwater.eventstore import EventStore
from headwater.identity._principal import Role
from headwater.jobs._queue import JobQueue
from headwater.modules import Module
from headwater.projections._module import Projections
from headwater.runtime import Runtime

log = logging.getLogger(__name__)


class AdminModule(Module):
    name: ClassVar[str] = "admin"
    version: ClassVar[str] = "0.1.0"

    def __init__(
        self,
        contributors: Sequence[Module] = (),
        *,
        interval: float = 2.0,
        viewer_role: Role = Role.TENANT_ADMIN,
        operator_role: Role = Role.TENANT_ADMIN,
    ) -> None:
        """``contributors``: the app and plugin modules whose panels the page shows.

        ``viewer_role`` defaults to the role the realtime ``admin`` channel needs, so
        whoever sees the dashboard also gets its live feed."""
        self.panels: list[Panel] = []
        self.apps: list[dict[str, str]] = []
        for module in contributors:
            self.apps.append({"name": module.name, "version": module.version})
            for panel in module.admin_panels():
                # A plugin host (``InstalledPlugins``) names each panel's own plugin.
                self.panels.append(replace(panel, app=panel.app or module.name))
        self.viewer_role = viewer_role
        self.operator_role = operator_role
        self.runtime: Runtime | None = None
        self.series = NodeSeries(lambda: self.runtime, interval=interval)
        #: The last rebuild started from the dashboard, per projection (this node).
        self.rebuilds: dict[str, dict[str, Any]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop: asyncio.Task[None] | None = None

    def routers(self) -> Sequence[APIRouter]:
        return (build_router(self),)

    # --- what the routes read ------------------------------------------------------------

    def store(self) -> EventStore:
        if self.runtime is None:
            raise StoreUnavailable("the admin module is not started")
        return self.runtime.store

    def projections(self) -> Projections:
        service = None if self.runtime is None else self.runtime.projections
        if service is None:
            raise StoreUnavailable("the projections module is not running")
        return service

    def jobs_queue(self) -> JobQueue | None:
        return None if self.runtime is None else self.runtime.jobs

    # --- lifecycle -----------------------------------------------------------------------

    async def start(self, runtime: Runtime) -> None:
        self.runtime = runtime
        runtime.alerts = self._publish_alert
        hub = runtime.hub
        if hub is not None:
            hub.metric_sources.append(self._latest)
        # The first sample, the baseline the next is measured against, is taken by the
        # loop: a store that is slow or failing must not hold up (or fail) start-up.
        self._loop = asyncio.create_task(self._sample_forever())

    async def stop(self, runtime: Runtime) -> None:
        tasks = [*self._tasks, *([self._loop] if self._loop else [])]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._loop = None
        hub = runtime.hub
        if hub is not None and self._latest in hub.metric_sources:
            hub.metric_sources.remove(self._latest)
        if runtime.alerts == self._publish_alert:
            runtime.alerts = None
        self.runtime = None

    async def _sample_forever(self) -> None:
        while True:
            try:
                await self.series.sample()
            except Exception:
                # A failed sample is a gap in the chart, not the end of the charts.
                log.exception("admin: sampling the node failed")
            await asyncio.sleep(self.series.interval)

    def _latest(self) -> dict[str, Any] | None:
        point = self.series.latest()
        return None if point is None else {"node": point}

    async def _publish_alert(self, event_type: str, data: dict[str, Any]) -> None:
        hub = None if self.runtime is None else self.runtime.hub
        if hub is None:
            return
        for tenant in hub.admin_tenants():
            # Platform admins (no tenant) get the stored ``system.alert`` event itself.
            if tenant is not None:
                hub.notify_admin(tenant, event_type, data)

    # --- rebuilds ------------------------------------------------------------------------

    async def start_rebuild(self, name: str, requested_by: str) -> dict[str, Any]:
        projections = self.projections()
        projections.find(name)  # 404 before anything starts
        current = self.rebuilds.get(name)
        if current is not None and current["state"] == "running":
            raise RebuildInProgress(name)
        record: dict[str, Any] = {
            "state": "running",
            "requested_by": requested_by,
            "started_at": time.time(),
            "progress": [0, 0],
            "events": None,
            "error": None,
        }
        self.rebuilds[name] = record

        def progress(done: int, total: int) -> None:
            record["progress"] = [done, total]

        async def run() -> None:
            try:
                result = await projections.rebuild(name, progress=progress)
            except Exception as exc:
                record.update(state="failed", error=str(exc)[:500])
                log.exception("admin: rebuilding %s failed", name)
            else:
                record.update(state="done", events=result.events, seconds=result.seconds)

        task = asyncio.create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return {"name": name, **record}
