"""Liveness and readiness, for load balancers and orchestrators."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse

from headwater.errors import HeadwaterError

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process is up")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="The node can serve: its database answers",
    responses={503: {"description": "The database does not answer"}},
)
async def readyz(request: Request) -> JSONResponse:
    runtime = request.app.state.runtime
    try:
        head = await runtime.store.head_position()
    except HeadwaterError as exc:
        return JSONResponse({"status": "unavailable", "reason": exc.code}, status_code=503)
    return JSONResponse({"status": "ready", "head_position": head})
