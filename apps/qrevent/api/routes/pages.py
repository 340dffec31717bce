"""The three pages: the guest's (from the QR code), the venue screen's, the door's.

Plain HTML with same-origin scripts and one stylesheet (the CSP allows nothing
else): no build step, no CDN, fast on a phone. They hold no data; everything comes
from the API with the caller's own credential.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final, Literal

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from apps.qrevent.errors import NotInTenant

PAGES: Final = Path(__file__).resolve().parents[2] / "pages"
#: Served by name only, from this list: no path from a request ever reaches the disk.
STATIC: Final[dict[str, str]] = {
    "qrevent.css": "text/css; charset=utf-8",
    "qrevent.js": "text/javascript; charset=utf-8",
    "guest.js": "text/javascript; charset=utf-8",
    "screen.js": "text/javascript; charset=utf-8",
    "door.js": "text/javascript; charset=utf-8",
}
#: The path a QR code opens; the signed code follows in the URL fragment.
GUEST_PATH: Final = "/qrevent/i"

router = APIRouter(prefix="/qrevent", tags=["qrevent: pages"], include_in_schema=False)


def _page(name: Literal["guest", "screen", "door"]) -> HTMLResponse:
    return HTMLResponse((PAGES / f"{name}.html").read_text("utf-8"))


@router.get("/i")
async def guest_page() -> HTMLResponse:
    return _page("guest")


@router.get("/screen")
async def screen_page() -> HTMLResponse:
    return _page("screen")


@router.get("/door")
async def door_page() -> HTMLResponse:
    return _page("door")


@router.get("/static/{name}")
async def static(name: str) -> Response:
    media_type = STATIC.get(name)
    if media_type is None:
        raise NotInTenant("no such file")
    body = (PAGES / "static" / name).read_bytes()
    return Response(body, media_type=media_type, headers={"cache-control": "public, max-age=300"})
