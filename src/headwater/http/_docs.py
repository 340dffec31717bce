"""The API's docs page, ``/docs``: Swagger UI served from this node alone.

FastAPI's own page loads Swagger UI from a CDN and starts it with an inline script;
the server's CSP (``script-src 'self'``) blocks both, and the machines Headwater
runs on often have no route to the internet. So the bundle is vendored
(``docs/static``, see ``VENDORED.txt``), served by fingerprinted name like every
other asset, and started by a same-origin script: the page works offline and under
the same policy as the rest of the node, with no exception for it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from fastapi import APIRouter, Request
from starlette.responses import Response

from headwater.http._static import StaticAssets

HERE: Final = Path(__file__).resolve().parent / "docs"
ASSETS: Final = StaticAssets(HERE / "static", prefix="/docs/assets")
PAGE: Final = ASSETS.page(HERE / "index.html")

router = APIRouter(include_in_schema=False)


@router.get("/docs")
async def docs_page(request: Request) -> Response:
    return PAGE.response(request)


@router.get("/docs/assets/{name:path}")
async def docs_asset(request: Request, name: str) -> Response:
    return ASSETS.response(request, name)
