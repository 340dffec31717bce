"""The framework's browser files: ``headwater.js`` (the one client every page uses)
and the favicon, served fingerprinted under ``/_headwater/`` by ``StaticAssets``.

A page names them like its own assets, with ``{{ asset 'headwater.js' }}``, by
passing ``shared=[CLIENT_ASSETS]`` to ``StaticAssets.page``. ``/favicon.ico`` redirects to
the current icon: browsers ask for it on pages that name none, and a 404 there
would be noise in every log.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from headwater.http._static import StaticAssets

CLIENT_ASSETS: Final = StaticAssets(
    Path(__file__).resolve().parent / "client", prefix="/_headwater"
)

router = APIRouter(include_in_schema=False)


@router.get("/_headwater/{name:path}")
async def client_asset(request: Request, name: str) -> Response:
    return CLIENT_ASSETS.response(request, name)


@router.get("/favicon.ico")
async def favicon() -> Response:
    # Temporary (302): the icon's fingerprinted URL changes with its content.
    return RedirectResponse(CLIENT_ASSETS.url("favicon.svg"), status_code=302)
