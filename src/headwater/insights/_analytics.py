"""``AnalyticsModule``: the capture endpoint, the dashboard data API and ``/admin`` charts.

It runs the analytics projection (its own runner, passed nothing by name) over captured
events and the ``sources`` apps declare, and, given the ``ExperimentsModule``, adds
experiment results to the dashboard data.
"""

# No ``from __future__ import annotations``: the routes' dependency aliases are local to
# the router factory (they close over the module), and FastAPI resolves annotations
# by evaluating them, which works for locals only when they are real objects.

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, ClassVar

import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from headwater.admin._panels import Column, Filter, Panel, Series
from headwater.analytics import (
    Analytics,
    Capture,
    Declarations,
    EventSource,
    InvalidCapture,
    analytics_projection,
    parse_batch,
)
from headwater.errors import InvalidInput, StoreUnavailable
from headwater.http._deps import AUTH_ERRORS, BAD_REQUEST, SignedInUser, Staff
from headwater.http._responses import Envelope, ok
from headwater.insights._experiments import ExperimentsModule, result_rows
from headwater.modules import Module
from headwater.projections import ProjectionRunner
from headwater.ratelimit._config import EndpointLimit
from headwater.runtime import Runtime

MAX_RANGE_DAYS = 366
CAPTURE_ROUTE = "POST /analytics/batch"


class AnalyticsModule(Module):
    name: ClassVar[str] = "analytics"
    version: ClassVar[str] = "0.1.0"

    def __init__(
        self,
        declarations: Declarations | None = None,
        *,
        sources: Sequence[EventSource] = (),
        experiments: ExperimentsModule | None = None,
        capture_limit_per_minute: int = 600,
        run_projection: bool = True,
    ) -> None:
        """``capture_limit_per_minute``: batches per caller (up to 1,000 events each).
        ``run_projection=False`` makes a capture-only node: another node (or process)
        keeps the counters, so capture never waits behind the projection's writes."""
        self.declarations = declarations or Declarations()
        self.sources = tuple(sources)
        self.experiments = experiments
        self.capture_limit = capture_limit_per_minute
        self.capture: Capture | None = None
        self.analytics: Analytics | None = None
        self.runner: ProjectionRunner | None = None
        self.run_projection = run_projection

    def endpoint_limits(self) -> Sequence[EndpointLimit]:
        return (EndpointLimit(CAPTURE_ROUTE, self.capture_limit, 60),)

    async def start(self, runtime: Runtime) -> None:
        self.capture = Capture(runtime.store)
        self.analytics = Analytics(runtime.store, self.declarations)
        if not self.run_projection:
            return
        self.runner = ProjectionRunner(
            runtime.store, analytics_projection(self.declarations, self.sources)
        )
        await self.runner.prepare()
        await self.runner.start()

    async def stop(self, runtime: Runtime) -> None:
        if self.runner is not None:
            await self.runner.stop()
        self.runner = self.capture = self.analytics = None

    def require(self) -> tuple[Capture, Analytics]:
        if self.capture is None or self.analytics is None:
            raise StoreUnavailable("the analytics module is not started")
        return self.capture, self.analytics

    def routers(self) -> Sequence[APIRouter]:
        return (analytics_router(self),)

    def admin_panels(self) -> Sequence[Panel]:
        days = (Filter("days", "Range (days)", ("7", "30", "90", "365"), default="30"),)
        return (
            Panel(
                "analytics-actions",
                "Actions per day",
                "chart",
                "/analytics/admin/actions",
                filters=days,
                series=(Series("total", "All actions"),),
            ),
            Panel(
                "analytics-funnels",
                "Funnels: step conversion and drop-off",
                "table",
                "/analytics/admin/funnels",
                filters=days,
                columns=(
                    Column("funnel", "Funnel"),
                    Column("step", "Step"),
                    Column("event", "Event"),
                    Column("count", "Subjects"),
                    Column("conversion", "Overall"),
                    Column("step_conversion", "From previous"),
                    Column("drop_off", "Drop-off"),
                ),
            ),
            Panel(
                "analytics-retention",
                "Retention",
                "table",
                "/analytics/admin/retention",
                filters=days,
                columns=(
                    Column("retention", "Table"),
                    Column("cohort", "Cohort"),
                    Column("size", "Size"),
                    *(Column(f"p{k}", f"+{k}") for k in range(8)),
                ),
            ),
        )


def _range(start: date | None, end: date | None, days: int) -> tuple[date, date]:
    end = end or datetime.now(UTC).date()
    start = start or end - timedelta(days=days - 1)
    if start > end or (end - start).days >= MAX_RANGE_DAYS:
        raise InvalidInput("start must not be after end, and the range at most a year")
    return start, end


def analytics_router(module: AnalyticsModule) -> APIRouter:
    router = APIRouter(prefix="/analytics", tags=["analytics"], responses=AUTH_ERRORS)

    async def reader() -> Analytics:
        return module.require()[1]

    Reader = Annotated[Analytics, Depends(reader)]
    Days = Annotated[int, Query(ge=1, le=MAX_RANGE_DAYS)]

    @router.post("/batch", status_code=202, responses=BAD_REQUEST)
    async def batch(request: Request, actor: SignedInUser) -> JSONResponse:
        """PostHog-shaped batch capture: ``{"batch": [{event, distinct_id, properties,
        timestamp, uuid}...]}``. 202 once stored; retried uuids are not stored twice."""
        capture, _ = module.require()
        try:
            body = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            raise InvalidCapture("the body is not JSON") from None
        parsed = parse_batch(body)
        result = await capture.capture(actor.require_tenant(), parsed.batch)
        return JSONResponse(
            {
                "success": True,
                "data": {
                    "received": result.received,
                    "written": result.written,
                    "duplicates": result.duplicates,
                },
            },
            status_code=202,
        )

    @router.get("/dashboard", responses=BAD_REQUEST)
    async def dashboard(
        actor: Staff,
        analytics: Reader,
        start: date | None = None,
        end: date | None = None,
        days: Days = 30,
    ) -> Envelope[dict[str, Any]]:
        """``get_dashboard_data(range)``: actions over time, funnels, retention, cohorts
        and (with the experiments module) experiment results with their intervals."""
        first, last = _range(start, end, days)
        tenant = actor.require_tenant()
        data = await analytics.get_dashboard_data(tenant, first, last)
        if module.experiments is not None and module.experiments.service is not None:
            data["experiments"] = await result_rows(module.experiments.service, tenant)
        return ok(data)

    @router.get("/admin/actions")
    async def actions(actor: Staff, analytics: Reader, days: Days = 30) -> Envelope[dict[str, Any]]:
        first, last = _range(None, None, days)
        data = await analytics.actions(actor.require_tenant(), first, last)
        for row in data["days"]:
            row["total"] = sum(row[name] for name in data["names"])
        return ok(data)

    @router.get("/admin/funnels")
    async def funnels(
        actor: Staff, analytics: Reader, days: Days = 30
    ) -> Envelope[list[dict[str, Any]]]:
        first, last = _range(None, None, days)
        rows = []
        for funnel in analytics.declarations.funnels:
            result = await analytics.funnel(actor.require_tenant(), funnel.id, first, last)
            rows += [{"funnel": funnel.id, **step} for step in result["steps"]]
        return ok(rows)

    @router.get("/admin/retention")
    async def retention(
        actor: Staff, analytics: Reader, days: Days = 30
    ) -> Envelope[list[dict[str, Any]]]:
        first, last = _range(None, None, days)
        rows = []
        for declared in analytics.declarations.retention:
            result = await analytics.retention(actor.require_tenant(), declared.id, first, last)
            for cohort in result["cohorts"]:
                row = {"retention": declared.id, "cohort": cohort["cohort"], "size": cohort["size"]}
                row.update({f"p{k}": rate for k, rate in enumerate(cohort["rates"][:8])})
                rows.append(row)
        return ok(rows)

    @router.get("/funnels/{funnel_id}")
    async def funnel(
        funnel_id: str,
        actor: Staff,
        analytics: Reader,
        start: date | None = None,
        end: date | None = None,
        days: Days = 30,
    ) -> Envelope[dict[str, Any]]:
        first, last = _range(start, end, days)
        return ok(await analytics.funnel(actor.require_tenant(), funnel_id, first, last))

    @router.get("/retention/{retention_id}")
    async def retention_table(
        retention_id: str,
        actor: Staff,
        analytics: Reader,
        start: date | None = None,
        end: date | None = None,
        days: Days = 30,
    ) -> Envelope[dict[str, Any]]:
        first, last = _range(start, end, days)
        return ok(await analytics.retention(actor.require_tenant(), retention_id, first, last))

    return router
