"""Replies: read one, stream its events (SSE, resumable from any node), cancel it."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query
from fastapi.responses import StreamingResponse

from apps.assistant.api.deps import AssistantService, User
from apps.assistant.streams import sse_body
from headwater.http import AUTH_ERRORS, BAD_REQUEST, MAX_INT64, NOT_FOUND, Envelope, ok

router = APIRouter(prefix="/assistant/replies", tags=["assistant"], responses=AUTH_ERRORS)

SSE_HEADERS = {
    # no-transform: proxies and compression must pass each chunk through as it comes.
    "cache-control": "no-cache, no-transform",
    "x-accel-buffering": "no",
}


@router.get(
    "/{reply_id}", summary="A reply: its text so far, status and last seq", responses=NOT_FOUND
)
async def get_reply(
    reply_id: str, user: User, service: AssistantService
) -> Envelope[dict[str, Any]]:
    owner = await service.reply_owner(user.tenant_id, user.user_id, reply_id)
    reply = await service.reply(user.tenant_id, user.user_id, reply_id)
    return ok(
        {
            **owner,
            "status": reply.status,
            "text": reply.text,
            "seq": reply.version,
            "citations": reply.citations,
            "usage": reply.usage,
            "error": reply.error,
        }
    )


@router.get(
    "/{reply_id}/events",
    summary="The reply's events as Server-Sent Events, from after a seq (Last-Event-ID)",
    responses={**NOT_FOUND, **BAD_REQUEST},
    response_class=StreamingResponse,
)
async def reply_events(
    reply_id: str,
    user: User,
    service: AssistantService,
    after: int | None = Query(default=None, ge=0, le=MAX_INT64),
    last_event_id: Annotated[int | None, Header(alias="Last-Event-ID", ge=0, le=MAX_INT64)] = None,
) -> StreamingResponse:
    """Each event: ``id`` is its seq; ``event`` is started, chunk, completed, failed or
    cancelled; ``data`` is JSON with ``seq``, ``kind`` and the payload (``text`` for a
    chunk). A reconnect with ``Last-Event-ID`` (browsers send it themselves) or
    ``?after=`` gets what follows, on any node: no gap, no duplicate. The body ends
    after the terminal event."""
    await service.reply_owner(user.tenant_id, user.user_id, reply_id)
    start = last_event_id if last_event_id is not None else (after or 0)
    body = sse_body(service.store, reply_id, user.tenant_id, start)
    return StreamingResponse(body, media_type="text/event-stream", headers=SSE_HEADERS)


@router.post(
    "/{reply_id}/cancel",
    summary="Stop a reply; what was written stays (cancelling a finished reply changes nothing)",
    responses=NOT_FOUND,
)
async def cancel_reply(
    reply_id: str, user: User, service: AssistantService
) -> Envelope[dict[str, Any]]:
    reply = await service.cancel(user.tenant_id, user.user_id, reply_id)
    return ok({"reply_id": reply_id, "status": reply.status, "seq": reply.version})
