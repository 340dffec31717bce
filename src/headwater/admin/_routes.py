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
from typing import TYPE_CHECKING, Any, Final

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from headwater.admin._alert_routes import RULES_PANEL, add_alert_routes
from headwater.errors import JobNotFound
from headwater.http._client import CLIENT_ASSETS
from headwater.http._deps import (
    AUTH_ERRORS,
    BAD_REQUEST,
    CONFLICT,
    NOT_FOUND,
    SecurityService,
    require_role,
)
from headwater.http._responses import Envelope, ok
from headwater.http._static import StaticAssets
from headwater.identity._principal import Principal, Role
from headwater.jobs._job import Job, JobState
from headwater.observability._alerts import ALERT_STREAM
from headwater.projections._status import ProjectionStatus

if TYPE_CHECKING:
    from headwater.admin._module import AdminModule

HERE: Final = Path(__file__).resolve().parent
#: Read and fingerprinted once, at start-up; the page names them by their current URLs.
ASSETS: Final = StaticAssets(HERE / "static", prefix="/admin/assets")
PAGE: Final = ASSETS.page(HERE / "index.html", shared=[CLIENT_ASSETS])


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
    async def page(request: Request) -> Response:
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

    @router.get("/api/jobs", responses={**AUTH_ERRORS, **BAD_REQUEST}, summary="Your jobs")
    async def jobs(
        principal: Principal = viewer,
        state: JobState | None = None,
        limit: int = Query(default=50, ge=1, le=500),
    ) -> Envelope[dict[str, Any]]:
        queue = admin.jobs_queue()
        if queue is None:
            return ok({"enabled": False, "depth": {}, "jobs": []})
        listed = await queue.list_jobs(state=state, tenant_id=_job_scope(principal), limit=limit)
        return ok(
            {
                "enabled": True,
                "depth": await queue.depth(),
                "jobs": [_job_view(job) for job in listed],
            }
        )

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

    @router.get("/api/alerts", responses=AUTH_ERRORS, summary="Recent alerts, newest first")
    async def alerts(
        principal: Principal = viewer, limit: int = Query(default=50, ge=1, le=500)
    ) -> Envelope[dict[str, Any]]:
        store = admin.store()
        recent = [
            {**event.data, "position": event.position}
            async for event in store.read_stream(ALERT_STREAM, backwards=True, limit=limit)
        ]
        firing: dict[str, dict[str, Any]] = {}
        for alert in reversed(recent):
            # One incident per rule and route (a per-route rule fires for each route).
            key = f"{alert.get('rule')}|{alert.get('route') or ''}"
            if alert.get("status") == "firing":
                firing[key] = alert
            elif alert.get("status") == "resolved":
                firing.pop(key, None)
        return ok({"recent": recent, "firing": list(firing.values())})

    add_alert_routes(router, admin)
    return router
