"""The three pages: the guest's (from the QR code), the venue screen's, the door's.

Plain HTML with same-origin scripts and one stylesheet (the CSP allows nothing
else): no build step, no CDN, fast on a phone. Sign-in, refresh, the socket and the
offline queue are the framework's ``headwater.js`` (``CLIENT_ASSETS``), which each
page names by a ``modulepreload`` link and imports from there. They hold no data; everything comes
from the API with the caller's own credential. The scripts and the stylesheet are
served by fingerprinted name (``headwater.http._static``), so a phone that cached
them for a year still runs the ones its page names.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final, Literal

from fastapi import APIRouter, Request
from fastapi.responses import Response

from headwater.http import CLIENT_ASSETS, Asset, StaticAssets

PAGES: Final = Path(__file__).resolve().parents[2] / "pages"
#: Read and fingerprinted once, at start-up; the pages name them by their current URLs.
ASSETS: Final = StaticAssets(PAGES / "static", prefix="/qrevent/static")
_HTML: Final[dict[str, Asset]] = {
    name: ASSETS.page(PAGES / f"{name}.html", shared=[CLIENT_ASSETS])
    for name in ("guest", "screen", "door")
}
#: The path a QR code opens; the signed code follows in the URL fragment.
GUEST_PATH: Final = "/qrevent/i"

router = APIRouter(prefix="/qrevent", tags=["qrevent: pages"], include_in_schema=False)


def _page(name: Literal["guest", "screen", "door"], request: Request) -> Response:
    return _HTML[name].response(request)


@router.get("/i")
async def guest_page(request: Request) -> Response:
    return _page("guest", request)


@router.get("/screen")
async def screen_page(request: Request) -> Response:
    return _page("screen", request)


@router.get("/door")
async def door_page(request: Request) -> Response:
    return _page("door", request)


@router.get("/sw.js")
async def service_worker() -> Response:
    """The pages' service worker, at this path so its scope is ``/qrevent/``: a shim
    loading the framework's (a door reloaded offline still opens; see ``offline.js``)."""
    return Response(
        f'importScripts("{CLIENT_ASSETS.url("offline.js")}");\n',
        media_type="text/javascript",
        headers={"cache-control": "no-cache"},
    )


@router.get("/static/{name:path}")
async def static(request: Request, name: str) -> Response:
    return ASSETS.response(request, name)
