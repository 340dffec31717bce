"""Request heads bounded in size, header count and time, under ``headwater serve``.

uvicorn bounds none of these with httptools, the parser it picks: the binding
accumulates a header value in memory however long it grows (a 64 MiB value held
until the head ends), and a connection that never finishes its head (or never sends
a byte) is kept open forever; ``timeout_keep_alive`` only runs between requests.
The bounds cannot live in ASGI middleware, which sees a request only once its head
is parsed, so they live in the protocol: :func:`bounded_protocol` subclasses
uvicorn's httptools protocol and

- counts the bytes of each head as they arrive, up to the blank line that ends it
  (only that terminator is looked for here; parsing stays httptools'), and answers
  ``431`` and closes past ``max_head_bytes``: memory per connection stays bounded;
- answers ``431`` past ``max_headers`` header fields;
- closes a connection whose head is not complete ``head_timeout`` seconds after it
  opened or after the head's first byte (``408``), so slow heads cannot hold
  descriptors;
- leaves idle keep-alive to uvicorn's ``timeout_keep_alive`` (``keepalive_timeout``).

Another ASGI server has its own limits (hypercorn: ``h11_max_incomplete_size``,
``keep_alive_timeout``); set them to the same values there.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, ClassVar, Final

import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

#: The blank line that ends a head.
_END: Final = b"\r\n\r\n"
_TOO_LARGE: Final = b"431 Request Header Fields Too Large"
_TIMEOUT: Final = b"408 Request Timeout"


@dataclass(frozen=True, slots=True)
class HeadLimits:
    #: Bytes of request line and headers together.
    max_head_bytes: int = 32 * 1024
    max_headers: int = 100
    #: Seconds to send a complete head, from connecting or from its first byte.
    head_timeout: float = 10.0
    #: Seconds an idle keep-alive connection stays open between requests.
    keepalive_timeout: float = 5.0


def _refusal(status: bytes, code: str, message: str) -> bytes:
    error = {"code": code, "message": message, "details": {}}
    body = orjson.dumps({"success": False, "error": error})
    return (
        b"HTTP/1.1 " + status + b"\r\ncontent-type: application/json\r\n"
        b"content-length: " + str(len(body)).encode() + b"\r\nconnection: close\r\n\r\n" + body
    )


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with bounded heads (see the module's docstring)."""

    limits: ClassVar[HeadLimits] = HeadLimits()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: True from the connection's start, and again once a request has been read
        #: whole, until the blank line ending the next head has been received.
        self._in_head = True
        self._head_bytes = 0
        #: The tail of the previous chunk, for a terminator split across two chunks.
        self._tail = b""
        self._header_count = 0
        self._head_timer: asyncio.TimerHandle | None = None
        #: Set once refused: the parser may still call back for the rest of the chunk.
        self._refused = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_timer()  # a connection that sends nothing is a slow head too

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        if self._in_head:
            if self._head_timer is None:
                self._arm_head_timer()
            seen = self._tail + data
            end = seen.find(_END)
            if end < 0:
                self._head_bytes += len(data)
                self._tail = seen[-3:]
            else:
                # Bytes after the terminator are body (or a pipelined request, whose
                # head is then bounded by the read size, not counted: a rare case).
                self._head_bytes += end + len(_END) - len(self._tail)
                self._in_head = False
                self._tail = b""
            if self._head_bytes > self.limits.max_head_bytes:
                self._refuse(_TOO_LARGE, "header_too_large", "the request head is too large")
                return
        super().data_received(data)

    def on_message_begin(self) -> None:
        self._header_count = 0
        super().on_message_begin()

    def on_url(self, url: bytes) -> None:
        if not self._refused:
            super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        if self._refused:
            return
        self._header_count += 1
        if self._header_count > self.limits.max_headers:
            self._refuse(_TOO_LARGE, "too_many_headers", "too many header fields")
            return
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._disarm_head_timer()
        if self._refused:
            return  # refused while parsing: start no request
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if not self._refused:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if self._refused:
            return
        super().on_message_complete()
        # What comes next on this connection is the next request's head. Its timer
        # starts with its first byte; until then uvicorn's keep-alive timeout runs.
        self._in_head, self._head_bytes, self._tail = True, 0, b""

    def _arm_head_timer(self) -> None:
        self._disarm_head_timer()
        loop = asyncio.get_running_loop()
        self._head_timer = loop.call_later(self.limits.head_timeout, self._head_timed_out)

    def _disarm_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self._in_head and not self.transport.is_closing():
            self._refuse(
                b"408 Request Timeout", "request_timeout", "the request head took too long"
            )

    def _refuse(self, status: bytes, code: str, message: str) -> None:
        self._disarm_head_timer()
        self._in_head = False
        self._refused = True
        if self.transport.is_closing():
            return
        if self.cycle is None or self.cycle.response_complete:
            # No response in flight: the refusal can be written without garbling one.
            self.transport.write(_refusal(status, code, message))
        self.transport.close()


def bounded_protocol(limits: HeadLimits) -> type[BoundedHttpToolsProtocol]:
    """The protocol class to give uvicorn (``http=``), with these limits."""
    return type("BoundedHttpTools", (BoundedHttpToolsProtocol,), {"limits": limits})


__all__ = ["BoundedHttpToolsProtocol", "HeadLimits", "bounded_protocol"]
