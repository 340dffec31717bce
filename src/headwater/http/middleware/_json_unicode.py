"""Refuse JSON request bodies whose text is not valid Unicode, with 400 ``invalid_unicode``.

JSON can spell a lone UTF-16 surrogate (``"x\\ud800y"``); Python's ``json`` accepts it
and hands the app a ``str`` that no UTF-8 encoder (the event store's codec, orjson,
PostgreSQL) will take, so it would fail far from the input as a 500. Checked here,
once, for every route: only bodies holding a ``\\u`` escape are parsed again, with
orjson, which refuses exactly these. Other malformed JSON is left to the framework,
which already answers it with a 4xx. Runs inside the body limit, so what it buffers
is bounded.
"""

from __future__ import annotations

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_JSON_TYPES = (b"application/json", b"application/merge-patch+json")


def _is_json(scope: Scope) -> bool:
    content_type = dict(scope["headers"]).get(b"content-type", b"").split(b";")[0].strip()
    return content_type.lower() in _JSON_TYPES or content_type.lower().endswith(b"+json")


def has_lone_surrogate(body: bytes) -> bool:
    if b"\\u" not in body:
        return False
    try:
        orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        return "surrogate" in str(exc)
    return False


_REFUSAL = orjson.dumps(
    {
        "success": False,
        "error": {
            "code": "invalid_unicode",
            "message": "the JSON body holds text that is not valid Unicode (a lone surrogate)",
            "details": {},
        },
    }
)


class JsonUnicodeMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _is_json(scope):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        pending: list[Message] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                pending.append(message)  # the client left: let the app see it
                break
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if not pending and has_lone_surrogate(body):
            await send(
                {
                    "type": "http.response.start",
                    "status": 400,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            await send({"type": "http.response.body", "body": _REFUSAL})
            return
        replay: list[Message] = [{"type": "http.request", "body": body, "more_body": False}]
        replay += pending

        async def replaying_receive() -> Message:
            return replay.pop(0) if replay else await receive()

        await self.app(scope, replaying_receive, send)
