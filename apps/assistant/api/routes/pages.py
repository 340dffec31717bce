"""The chat page: plain HTML and a same-origin module on the framework's ``headwater.js``.

No build step, no CDN. The page holds no data: threads and replies come from the
API with the signed-in user's token, and a reply is read from its event stream, so a
reload mid-reply picks it up from the log where it stands.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from fastapi import APIRouter, Request
from fastapi.responses import Response

from headwater.http import CLIENT_ASSETS, StaticAssets

PAGES: Final = Path(__file__).resolve().parents[2] / "pages"
ASSETS: Final = StaticAssets(PAGES / "static", prefix="/assistant/static")
CHAT: Final = ASSETS.page(PAGES / "chat.html", shared=[CLIENT_ASSETS])
CHAT_PATH: Final = "/assistant/chat"

router = APIRouter(prefix="/assistant", tags=["assistant: pages"], include_in_schema=False)


@router.get("/chat")
async def chat_page(request: Request) -> Response:
    return CHAT.response(request)


@router.get("/static/{name:path}")
async def static(request: Request, name: str) -> Response:
    return ASSETS.response(request, name)
