"""Compress responses by ``Accept-Encoding``: brotli or zstd when installed, else gzip.

Pure ASGI and streaming: a response sent in one body message is compressed whole
(and skipped when smaller than ``minimum_size``: the headers would outweigh the
gain); a response sent in several is compressed chunk by chunk, each chunk flushed
so a client receives it now, not when a buffer fills. Server-Sent Events are never
touched: an event held in a compressor's buffer is an event that did not arrive,
and proxies are known to stall compressed SSE. Responses that already carry a
``Content-Encoding``, non-compressible types (images, archives) and statuses
without a body pass through unchanged.

brotli and zstandard are optional imports (``pip install brotli zstandard``); gzip
(zlib) is always there.
"""

from __future__ import annotations

import importlib
import zlib
from collections.abc import Callable
from typing import Any, Protocol

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: Content types worth compressing; everything else is assumed compressed already.
COMPRESSIBLE = (
    "text/",
    "application/json",
    "application/problem+json",
    "application/javascript",
    "application/xml",
    "application/x-ndjson",
    "image/svg+xml",
)
NEVER = ("text/event-stream",)


class Compressor(Protocol):
    def compress(self, data: bytes) -> bytes:
        """Compress and flush: everything given so far is decodable by the client."""

    def finish(self) -> bytes: ...


class _Gzip:
    def __init__(self, level: int) -> None:
        # wbits 16 + MAX_WBITS: the gzip container rather than raw zlib.
        self._z = zlib.compressobj(level, zlib.DEFLATED, 16 + zlib.MAX_WBITS)

    def compress(self, data: bytes) -> bytes:
        return self._z.compress(data) + self._z.flush(zlib.Z_SYNC_FLUSH)

    def finish(self) -> bytes:
        return self._z.flush(zlib.Z_FINISH)


class _Brotli:
    def __init__(self, lib: Any, quality: int) -> None:
        self._c = lib.Compressor(quality=quality)

    def compress(self, data: bytes) -> bytes:
        out: bytes = self._c.process(data) + self._c.flush()
        return out

    def finish(self) -> bytes:
        out: bytes = self._c.finish()
        return out


class _Zstd:
    def __init__(self, lib: Any, level: int) -> None:
        self._lib = lib
        self._c = lib.ZstdCompressor(level=level).compressobj()

    def compress(self, data: bytes) -> bytes:
        out: bytes = self._c.compress(data) + self._c.flush(self._lib.COMPRESSOBJ_FLUSH_BLOCK)
        return out

    def finish(self) -> bytes:
        out: bytes = self._c.flush()
        return out


def _optional(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def available_encodings(gzip_level: int = 6) -> dict[str, Callable[[], Compressor]]:
    """Encodings this process can produce, in the server's order of preference."""
    found: dict[str, Callable[[], Compressor]] = {}
    brotli = _optional("brotli")
    if brotli is not None:
        found["br"] = lambda: _Brotli(brotli, 4)  # quality 4: near gzip speed, smaller
    zstd = _optional("zstandard")
    if zstd is not None:
        found["zstd"] = lambda: _Zstd(zstd, 3)
    found["gzip"] = lambda: _Gzip(gzip_level)
    return found


def choose_encoding(accept: str, offered: list[str]) -> str | None:
    """The first of ``offered`` (server preference) the client accepts with q > 0."""
    accepted: dict[str, float] = {}
    for item in accept.split(","):
        token, _, params = item.strip().partition(";")
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if token:
            accepted[token.strip().lower()] = q
    wildcard = accepted.get("*")
    best: tuple[float, int, str] | None = None
    for rank, name in enumerate(offered):
        q = accepted.get(name, wildcard if wildcard is not None else 0.0)
        if q > 0 and (best is None or q > best[0]):
            best = (q, -rank, name)
    return None if best is None else best[2]


class CompressionMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        minimum_size: int = 500,
        gzip_level: int = 6,
        encodings: list[str] | None = None,
    ) -> None:
        self.app = app
        self.minimum_size = minimum_size
        every = available_encodings(gzip_level)
        names = [e for e in (encodings or list(every)) if e in every]
        self.encoders = {name: every[name] for name in names}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        accept = Headers(scope=scope).get("accept-encoding", "")
        encoding = choose_encoding(accept, list(self.encoders)) if accept else None
        if encoding is None:
            await self.app(scope, receive, send)
            return
        responder = _Responder(send, encoding, self.encoders[encoding], self.minimum_size)
        await self.app(scope, receive, responder.send)


class _Responder:
    """Per-response state: hold the start message until the first body says what to do."""

    def __init__(
        self, send: Send, encoding: str, make: Callable[[], Compressor], minimum_size: int
    ) -> None:
        self._send = send
        self._encoding = encoding
        self._make = make
        self._minimum = minimum_size
        self._start: Message | None = None
        self._compressor: Compressor | None = None
        self._passthrough = False

    async def send(self, message: Message) -> None:
        kind = message["type"]
        if kind == "http.response.start":
            if self._skip(Headers(raw=message.get("headers", [])), message["status"]):
                self._passthrough = True
                await self._send(message)
            else:
                self._start = message
            return
        if kind != "http.response.body" or self._passthrough:
            await self._send(message)
            return
        if self._compressor is None:
            await self._first_body(message)
            return
        body = self._compressor.compress(message.get("body", b""))
        more = message.get("more_body", False)
        if not more:
            body += self._compressor.finish()
        await self._send({"type": "http.response.body", "body": body, "more_body": more})

    def _skip(self, headers: Headers, status: int) -> bool:
        if status < 200 or status in (204, 304) or "content-encoding" in headers:
            return True
        content_type = headers.get("content-type", "").lower()
        if content_type.startswith(NEVER):
            return True
        return not content_type.startswith(COMPRESSIBLE)

    async def _first_body(self, message: Message) -> None:
        assert self._start is not None  # ASGI: a body always follows a start
        start, self._start = self._start, None
        body: bytes = message.get("body", b"")
        more = message.get("more_body", False)
        start["headers"] = list(start.get("headers", []))
        headers = MutableHeaders(raw=start["headers"])
        headers.add_vary_header("Accept-Encoding")
        if not more and len(body) < self._minimum:
            self._passthrough = True
            await self._send(start)
            await self._send(message)
            return
        self._compressor = self._make()
        data = self._compressor.compress(body)
        if not more:
            data += self._compressor.finish()
            headers["content-length"] = str(len(data))
        elif "content-length" in headers:
            del headers["content-length"]
        headers["content-encoding"] = self._encoding
        await self._send(start)
        await self._send({"type": "http.response.body", "body": data, "more_body": more})
