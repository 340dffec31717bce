"""Weak ``ETag`` and ``If-None-Match`` for read GETs: an unchanged read model costs no body.

Pure ASGI. A successful (200) ``GET`` or ``HEAD`` whose JSON body is sent in one
message gets ``ETag: W/"<blake2b-128 of the body>"`` and, unless the route chose its
own, ``Cache-Control: private, no-cache`` (cached by the client alone, and revalidated
every time). When the request's ``If-None-Match`` names that tag (weak comparison,
lists and ``*`` included) the answer is ``304 Not Modified`` with no body.

Left alone: other methods and statuses, streamed bodies (several body messages),
Server-Sent Events, non-JSON types, responses that already carry an ``ETag`` and
compressed ones. It sits inside the compression middleware, so the tag is of the
identity body and one tag serves every encoding (which is what makes it weak).
"""

from __future__ import annotations

import hashlib

from starlette.types import ASGIApp, Message, Receive, Scope, Send

METHODS = frozenset({"GET", "HEAD"})
CACHE_CONTROL = "private, no-cache"


def compute_etag(body: bytes) -> str:
    """The weak tag of a body: ``W/"<32 hex digits>"``."""
    return f'W/"{hashlib.blake2b(body, digest_size=16).hexdigest()}"'


def _opaque(tag: str) -> str:
    tag = tag.strip()
    if tag[:2] in ("W/", "w/"):
        tag = tag[2:]
    return tag


def if_none_match(header: str | None, etag: str) -> bool:
    """Whether ``If-None-Match`` matches ``etag`` by weak comparison (``*`` matches all)."""
    if not header:
        return False
    wanted = _opaque(etag)
    for candidate in header.split(","):
        candidate = candidate.strip()
        if candidate == "*" or (candidate and _opaque(candidate) == wanted):
            return True
    return False


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


def _header(raw: list[tuple[bytes, bytes]], name: bytes) -> bytes | None:
    for key, value in raw:
        if key.lower() == name:
            return value
    return None


class ETagMiddleware:
    # Raw header scans rather than ``Headers`` objects: this runs for every GET, and
    # building and rebuilding header views was most of its cost.
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in METHODS:
            await self.app(scope, receive, send)
            return
        given = _header(scope["headers"], b"if-none-match")
        condition = None if given is None else given.decode("latin-1")
        head = scope["method"] == "HEAD"
        start: Message | None = None
        passthrough = False

        async def wrapped(message: Message) -> None:
            nonlocal start, passthrough
            if passthrough:
                await send(message)
                return
            if message["type"] == "http.response.start":
                content_type = b""
                blocked = False
                for name, value in message.get("headers", []):
                    lowered = name.lower()
                    if lowered == b"content-type":
                        content_type = value
                    elif lowered in (b"etag", b"content-encoding"):
                        blocked = True
                eligible = (
                    message["status"] == 200
                    and not blocked
                    and _is_json(content_type.decode("latin-1"))
                )
                if not eligible:
                    passthrough = True
                    await send(message)
                    return
                start = message  # held until the body shows whether it is whole
                return
            if message["type"] != "http.response.body" or start is None:
                await send(message)
                return
            held, start = start, None
            passthrough = True
            body: bytes = message.get("body", b"")
            raw = list(held.get("headers", []))
            length = _header(raw, b"content-length")
            if message.get("more_body", False) or (
                head and not body and length not in (None, b"0")
            ):
                # Streamed, or a HEAD whose body was dropped: no whole body to tag.
                await send(held)
                await send(message)
                return
            etag = compute_etag(body)
            raw.append((b"etag", etag.encode("latin-1")))
            if _header(raw, b"cache-control") is None:
                raw.append((b"cache-control", CACHE_CONTROL.encode("latin-1")))
            if if_none_match(condition, etag):
                kept = [
                    (name, value)
                    for name, value in raw
                    if name.lower() not in (b"content-length", b"content-type")
                ]
                await send({**held, "status": 304, "headers": kept})
                await send({"type": "http.response.body", "body": b"", "more_body": False})
                return
            await send({**held, "headers": raw})
            await send(message)

        await self.app(scope, receive, wrapped)
