"""Server-Sent Events, for clients that cannot hold a WebSocket.

``GET /realtime/sse?channel=...&channel=...`` streams ``text/event-stream``. Events
carry ``id: <position>``; a client that reconnects with ``Last-Event-ID`` (browsers
do it on their own) gets the history after it from the store, then live events,
with no gap and no duplicate. All channels of one stream share one cursor, so ids
only ever increase and one ``Last-Event-ID`` resumes them all. Control messages
(``welcome``, ``subscribed``, ``topic``, ``presence``) have no id. Keep-alive
comments flow when nothing else does. A stream that falls ``max_queue`` frames
behind, or whose log was rewound under it (a failover that lost commits), ends with an
``event: resync`` whose data is ``{"resync_from": P}`` and whose ``id`` is P, so that a
browser reconnecting on its own resumes there.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Sequence
from typing import Final

from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from headwater.errors import HeadwaterError
from headwater.identity._channels import Channel
from headwater.identity._principal import Principal
from headwater.realtime._frames import SSE_RETRY_MS, Frame, dumps, message
from headwater.realtime._hub import Hub
from headwater.realtime._subscription import Subscription

log = logging.getLogger("headwater.realtime")

#: Frames written per body chunk: one write for a burst instead of one per event.
_BATCH: Final = 256

HEADERS: Final = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    # no-transform: proxies and compression must pass each event through as it comes.
    (b"cache-control", b"no-cache, no-transform"),
    (b"x-accel-buffering", b"no"),
]


class SseStream:
    """The sink of one SSE response; the response's own task is its writer."""

    def __init__(self, principal: Principal, max_queue: int) -> None:
        self._principal = principal
        self._max_queue = max_queue
        self._queue: deque[tuple[Frame, Subscription | None]] = deque()
        self._wake = asyncio.Event()
        self._room: asyncio.Event = asyncio.Event()
        self._open = True
        self.delivered = 0
        self.resync_from: int | None = None
        #: (code, message) of the error that ended the stream, sent as ``event: error``.
        self.error: tuple[str, str] | None = None

    @property
    def principal(self) -> Principal:
        return self._principal

    @property
    def is_open(self) -> bool:
        return self._open

    def push(self, frame: Frame, sub: Subscription | None) -> None:
        if not self._open:
            return
        if len(self._queue) >= self._max_queue:
            self.resync_from = self.delivered
            self.close()
            return
        self._queue.append((frame, sub))
        self._wake.set()

    async def put(self, frame: Frame, sub: Subscription | None) -> None:
        while self._open and len(self._queue) >= self._max_queue // 2:
            self._room.clear()
            await self._room.wait()
        self.push(frame, sub)

    def resync(self, position: int) -> None:
        """End the stream with ``event: resync``: the log was rewound above ``position``."""
        ceiling = min(self.delivered, position)
        self.resync_from = ceiling if self.resync_from is None else min(self.resync_from, ceiling)
        self.close()

    def unavailable(self, reason: str) -> None:
        self.fail("unavailable", reason)

    def fail(self, code: str, text: str) -> None:
        """End the stream with ``event: error`` (the response has started: no status)."""
        if self._open and self.error is None:
            self.error = (code, text)
        self.close()

    def close(self) -> None:
        self._open = False
        self._queue.clear()
        self._wake.set()
        self._room.set()

    def take(self) -> list[tuple[Frame, Subscription | None]]:
        batch = [self._queue.popleft() for _ in range(min(_BATCH, len(self._queue)))]
        if len(self._queue) < self._max_queue // 2:
            self._room.set()
        return batch

    async def wait(self, seconds: float) -> bool:
        """Wait for frames; False when ``seconds`` passed with nothing to send."""
        if self._queue or not self._open:
            return True
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._wake.wait()
                return True
        return False


class SseResponse(Response):
    """A response that streams one client's channels until it goes away."""

    media_type = "text/event-stream"

    def __init__(
        self,
        hub: Hub,
        principal: Principal,
        channels: Sequence[Channel],
        from_position: int | None,
    ) -> None:
        super().__init__(status_code=200, media_type=self.media_type)
        self._hub = hub
        self._principal = principal
        self._channels = channels
        self._from = from_position

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        hub = self._hub
        resync = hub.resume_point(self._from)
        if resync is not None:
            # Last-Event-ID names a position a rewind of the log gave to other events.
            await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
            await send({"type": "http.response.body", "body": _resync_event(resync)})
            return
        stream = SseStream(self._principal, hub.config.max_queue)
        subs, target = hub.subscribe(stream, self._channels, from_position=self._from)
        # Pushed before any await, so they precede every event of these channels.
        welcome = message("welcome", subject=self._principal.subject, position=hub.position)
        stream.push(welcome, None)
        for sub in subs:
            stream.push(message("subscribed", channel=sub.name, position=hub.position), sub)
        tasks = [asyncio.create_task(_watch_disconnect(receive, stream))]
        if target is not None:
            tasks.append(asyncio.create_task(_guarded(stream, hub.catch_up(subs, target))))
        for sub in subs:
            provider = hub.topic(sub.channel.kind)
            if provider is not None:
                tasks.append(asyncio.create_task(_guarded(stream, hub.topics.prime(provider, sub))))
        try:
            await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
            await send(_body(f"retry: {SSE_RETRY_MS}\n\n".encode()))
            await self._write(stream, send)
        except OSError:
            pass  # the client went away mid-write (uvicorn's ClientDisconnected)
        finally:
            stream.close()
            for task in tasks:
                task.cancel()
            for sub in subs:
                hub.unsubscribe(sub)

    async def _write(self, stream: SseStream, send: Send) -> None:
        keepalive = self._hub.config.sse_keepalive
        while stream.is_open:
            if not await stream.wait(keepalive):
                await send(_body(b": keep-alive\n\n"))
                continue
            batch = stream.take()
            if not batch:
                continue
            await send(_body(b"".join(frame.sse for frame, _ in batch)))
            for frame, sub in batch:
                if frame.position is not None:
                    stream.delivered = frame.position
                    if sub is not None:
                        sub.delivered = frame.position
        if stream.resync_from is not None:
            await send(_body(_resync_event(stream.resync_from)))
        elif stream.error is not None:
            code, text = stream.error
            data = dumps({"code": code, "message": text})
            await send(_body(f"event: error\ndata: {data}\n\n".encode()))
        await send({"type": "http.response.body", "body": b"", "more_body": False})


def _resync_event(position: int) -> bytes:
    # The id moves the browser's Last-Event-ID back to the position to resume from, so
    # an EventSource that reconnects by itself resumes there, not past a rewind.
    data = dumps({"resync_from": position})
    return f"id: {position}\nevent: resync\ndata: {data}\n\n".encode()


async def _guarded(stream: SseStream, work: Awaitable[None]) -> None:
    """Run a stream's history read or topic priming; an error ends the stream with an
    ``error`` event instead of vanishing in its task (the response has started)."""
    try:
        await work
    except HeadwaterError as exc:
        stream.fail(exc.code, exc.message)
    except Exception:
        log.exception("realtime: an SSE stream failed")
        stream.fail("internal_error", "the stream failed on the server")


def _body(chunk: bytes) -> Message:
    return {"type": "http.response.body", "body": chunk, "more_body": True}


async def _watch_disconnect(receive: Receive, stream: SseStream) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
    stream.close()
