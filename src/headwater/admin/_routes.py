"""The dashboard's page, its assets (vendored uPlot included), and the node views it reads.

Every ``/admin/api`` route takes the same credentials as the rest of the API; the
page itself signs in through ``headwater.js`` (bearer tokens refreshed before they
expire, so it outlives any one credential; a cookie session still works, with its
CSRF token on each unsafe call). Reading and operating (rebuilding a projection,
retrying a job) need the module's ``viewer_role`` and ``operator_role``, a tenant
admin by default. Jobs are listed and retried for the caller's tenant only (every
tenant's, for a platform admin); projections and the node's figures are the node's,
with no tenant data.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Final

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from headwater.admin._alert_routes import RULES_PANEL, add_alert_routes
from headwater.cursors import CursorCodec, ListQuery, Sorts, Total
from headwater.errors import InvalidCursor, JobNotFound, StoreUnavailable
from headwater.http._client import CLIENT_ASSETS
from headwater.http._deps import (
    AUTH_ERRORS,
    BAD_REQUEST,
    CONFLICT,
    NOT_FOUND,
    SecurityService,
    require_role,
)
from headwater.http._listing import list_query
from headwater.http._responses import Envelope, Page, ok, page
from headwater.http._static import StaticAssets
from headwater.identity._principal import Principal, Role
from headwater.jobs._job import Job, JobState
from headwater.jobs._queue import JOB_SORTS
from headwater.observability._alerts import ALERT_STREAM
from headwater.projections._status import ProjectionStatus

if TYPE_CHECKING:
    from headwater.admin._module import AdminModule

HERE: Final = Path(__file__).resolve().parent
#: Read and fingerprinted once, at start-up; the page names them by their current URLs.
ASSETS: Final = StaticAssets(HERE / "static", prefix="/admin/assets")
PAGE: Final = ASSETS.page(HERE / "index.html", shared=[CLIENT_ASSETS])


#: The alert log in stream order; the key is the alert's version in its stream.
ALERT_SORTS: Final = Sorts(
    columns={"position": "version"}, default="position", tiebreak="version", order="desc"
)
#: How far back the firing set looks: incidents older than this many alerts are stale.
FIRING_WINDOW: Final = 500


def _codec(admin: AdminModule) -> CursorCodec:
    if admin.runtime is None:
        raise StoreUnavailable("the admin module is not started")
    return admin.runtime.cursors


def _projection_view(status: ProjectionStatus, rebuild: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "name": status.name,
        "mode": status.mode,
        "state": str(status.state),
        "position": status.position,
        "head": status.head,
        "lag_events": status.lag_events,
        "lag_seconds": round(status.lag_seconds, 3),
        "last_error": status.last_error,
        "poison_count": status.poison_count,
        "needs_rebuild": status.needs_rebuild,
        "rebuild_progress": list(status.rebuild_progress) if status.rebuild_progress else None,
        "last_rebuild": rebuild,
    }


def _job_view(job: Job) -> dict[str, Any]:
    # No payload: it is the app's data, and a list of jobs is an operator's view.
    return {
        "id": job.id,
        "name": job.name,
        "state": job.state.value,
        "attempts": job.attempts,
        "max_attempts": job.max_attempts,
        "last_error": job.last_error,
        "run_at": job.run_at.isoformat(),
        "updated_at": job.updated_at.isoformat(),
    }


def _job_scope(principal: Principal) -> str | None:
    """The tenant whose jobs the caller sees; None (every job) for a platform admin,
    who runs the deployment and has no tenant of its own."""
    if principal.tenant_id is None and principal.has_role(Role.PLATFORM_ADMIN):
        return None
    return principal.require_tenant()


def build_router(admin: AdminModule) -> APIRouter:
    router = APIRouter(prefix="/admin", tags=["admin dashboard"])
    # Defaults rather than Annotated aliases: the roles are the module's, known only now.
    viewer = require_role(admin.viewer_role)
    operator = require_role(admin.operator_role)

    @router.get("", include_in_schema=False)
    async def dashboard(request: Request) -> Response:
        return PAGE.response(request)

    @router.get("/assets/{name:path}", include_in_schema=False)
    async def asset(request: Request, name: str) -> Response:
        return ASSETS.response(request, name)

    @router.get("/api/overview", responses=AUTH_ERRORS, summary="Who is signed in, the panels")
    async def overview(
        security: SecurityService, principal: Principal = viewer
    ) -> Envelope[dict[str, Any]]:
        account = await security.accounts.get(principal.subject)
        return ok(
            {
                "subject": principal.subject,
                "email": account.email if account is not None else None,
                "tenant_id": principal.tenant_id,
                "roles": sorted(role.value for role in principal.roles),
                "can_operate": principal.has_role(admin.operator_role),
                "apps": admin.apps,
                "panels": [
                    panel.describe()
                    for panel in [*admin.panels, RULES_PANEL]
                    if principal.has_role(panel.role)
                ],
                "jobs_enabled": admin.jobs_queue() is not None,
                "interval": admin.series.interval,
            }
        )

    @router.get("/api/series", responses=AUTH_ERRORS, summary="The node's figures, last minutes")
    async def series(principal: Principal = viewer) -> Envelope[dict[str, Any]]:
        return ok({"interval": admin.series.interval, "points": list(admin.series.points)})

    @router.get("/api/projections", responses=AUTH_ERRORS, summary="Projections and their lag")
    async def projections(principal: Principal = viewer) -> Envelope[list[dict[str, Any]]]:
        found = await admin.projections().status()
        return ok([_projection_view(s, admin.rebuilds.get(s.name)) for s in found])

    @router.post(
        "/api/projections/{projection}/rebuild",
        status_code=202,
        responses={**AUTH_ERRORS, **NOT_FOUND, **CONFLICT},
        summary="Rebuild a projection from the log (runs in the background)",
    )
    async def rebuild(projection: str, principal: Principal = operator) -> Envelope[dict[str, Any]]:
        return ok(await admin.start_rebuild(projection, principal.subject))

    @router.get(
        "/api/jobs",
        responses={**AUTH_ERRORS, **BAD_REQUEST},
        summary="Your jobs (sort, order, total, pages)",
    )
    async def jobs(
        query: Annotated[ListQuery, Depends(list_query(JOB_SORTS))],
        principal: Principal = viewer,
        state: JobState | None = None,
        cursor: str | None = Query(default=None, max_length=2000),
        limit: int = Query(default=50, ge=1, le=500),
    ) -> Page[dict[str, Any]]:
        queue = admin.jobs_queue()
        if queue is None:
            return page([], cursor=None, limit=limit)
        tenant = _job_scope(principal)
        # The cursor is bound to the tenant and the filter: reusing it elsewhere is a 400.
        scope = f"admin-jobs:{tenant}:{state}"
        after = query.decode(_codec(admin), scope, cursor)
        keyed = await queue.keyed_jobs(
            state=state,
            tenant_id=tenant,
            limit=limit + 1,
            sort=query.sort,
            order=query.order,
            after=after,
        )
        total = await queue.count_jobs(state=state, tenant_id=tenant) if query.total else None
        next_cursor = None
        if len(keyed) > limit:
            keyed = keyed[:limit]
            next_cursor = query.encode(_codec(admin), scope, keyed[-1][1])
        return page(
            [_job_view(job) for job, _ in keyed], cursor=next_cursor, limit=limit, total=total
        )

    @router.get("/api/jobs/depth", responses=AUTH_ERRORS, summary="Jobs in each state")
    async def job_depth(principal: Principal = viewer) -> Envelope[dict[str, Any]]:
        queue = admin.jobs_queue()
        if queue is None:
            return ok({"enabled": False, "depth": {}})
        return ok({"enabled": True, "depth": await queue.depth()})

    @router.post(
        "/api/jobs/{job_id}/retry",
        responses={**AUTH_ERRORS, **NOT_FOUND, **CONFLICT},
        summary="Run a dead or failed job again now",
    )
    async def retry(job_id: str, principal: Principal = operator) -> Envelope[dict[str, Any]]:
        queue = admin.jobs_queue()
        job = await queue.get(job_id) if queue is not None and len(job_id) <= 200 else None
        # Another tenant's job reads as missing: its existence is not the caller's to know.
        scope = _job_scope(principal)
        if job is None or (scope is not None and job.tenant_id != scope):
            raise JobNotFound(job_id[:200])
        assert queue is not None
        return ok(_job_view(await queue.retry(job_id)))

    @router.get(
        "/api/alerts",
        responses={**AUTH_ERRORS, **BAD_REQUEST},
        summary="Alerts raised and resolved, newest first (pages)",
    )
    async def alerts(
        query: Annotated[ListQuery, Depends(list_query(ALERT_SORTS))],
        principal: Principal = viewer,
        cursor: str | None = Query(default=None, max_length=2000),
        limit: int = Query(default=50, ge=1, le=500),
    ) -> Page[dict[str, Any]]:
        store = admin.store()
        after = query.decode(_codec(admin), "admin-alerts", cursor)
        backwards = query.order == "desc"
        start = None
        if after is not None:
            if not isinstance(after[0], int) or isinstance(after[0], bool):
                raise InvalidCursor("the cursor is not valid")
            start = after[0] - 1 if backwards else after[0] + 1
        events = []
        if start is None or start >= 1:
            events = [
                event
                async for event in store.read_stream(
                    ALERT_STREAM, from_version=start, backwards=backwards, limit=limit + 1
                )
            ]
        total = None
        if query.total:
            # Versions run 1..n with no gaps, so the stream's version is its length.
            total = Total(await store.stream_version(ALERT_STREAM) or 0, True)
        next_cursor = None
        if len(events) > limit:
            events = events[:limit]
            last = events[-1].version
            next_cursor = query.encode(_codec(admin), "admin-alerts", [last, last])
        rows = [{**event.data, "position": event.position} for event in events]
        return page(rows, cursor=next_cursor, limit=limit, total=total)

    @router.get("/api/alerts/firing", responses=AUTH_ERRORS, summary="Alerts firing now")
    async def firing_alerts(principal: Principal = viewer) -> Envelope[list[dict[str, Any]]]:
        store = admin.store()
        recent = [
            {**event.data, "position": event.position}
            async for event in store.read_stream(ALERT_STREAM, backwards=True, limit=FIRING_WINDOW)
        ]
        firing: dict[str, dict[str, Any]] = {}
        for alert in reversed(recent):
            # One incident per rule and route (a per-route rule fires for each route).
            key = f"{alert.get('rule')}|{alert.get('route') or ''}"
            if alert.get("status") == "firing":
                firing[key] = alert
            elif alert.get("status") == "resolved":
                firing.pop(key, None)
        return ok(list(firing.values()))

    add_alert_routes(router, admin)
    return router
