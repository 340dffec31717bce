"""Liveness and readiness, for load balancers and orchestrators."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse

from headwater.errors import HeadwaterError
from headwater.http._error_handlers import retry_after_unavailable

router = APIRouter(tags=["health"])


# HEAD too: load balancers and uptime checkers probe with it and want no body. Out of
# the schema: one operation per path is enough to document, and ids must be unique.
@router.head("/healthz", include_in_schema=False)
@router.get("/healthz", summary="The process is up")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.head("/readyz", include_in_schema=False)
@router.get(
    "/readyz",
    summary="The node can serve: an append through it could commit now",
    responses={503: {"description": "The node cannot write (with Retry-After)"}},
)
async def readyz(request: Request) -> JSONResponse:
    """Ready means "can write", not "can read": a node whose link lets reads through
    but no commit (or whose writer is stuck) is taken out of rotation. Every check is
    bounded by the store's own deadlines, so this answers within seconds either way."""
    runtime = request.app.state.runtime
    try:
        await runtime.store.check_writable()
        head = await runtime.store.head_position()
    except HeadwaterError as exc:
        return JSONResponse(
            {"status": "unavailable", "reason": exc.code},
            status_code=503,
            headers={"Retry-After": str(retry_after_unavailable(exc))},
        )
    return JSONResponse({"status": "ready", "head_position": head})
