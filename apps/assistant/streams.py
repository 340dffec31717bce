"""Reading a reply back from the log as it is written: what SSE clients are sent.

History, then live, with no gap and no duplicate: the head position is taken before
the stream is read, so whatever commits after that read arrives through the
subscription from that head (which LISTEN/NOTIFY wakes on PostgreSQL, on whichever
node the reply is being written), and events already sent (version at or below the
last one) are skipped. A client resumes with the last ``seq`` it saw, on any node.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Final

import orjson

from apps.assistant.domain.replies import TERMINAL, client_view, reply_stream
from headwater.eventstore import EventStore, RecordedEvent

#: Seconds of silence after which a comment is sent, so proxies and clients see the
#: connection alive and a dead client is noticed at the next write.
KEEPALIVE: Final = 15.0
#: What a browser waits before reconnecting on its own, ms.
RETRY_MS: Final = 1000


async def reply_events(
    store: EventStore, reply_id: str, tenant_id: str | None, after: int
) -> AsyncIterator[RecordedEvent]:
    """The reply's events after version ``after``, until and including its terminal one."""
    stream = reply_stream(reply_id)
    last = after
    head = await store.head_position()
    async for event in store.read_stream(stream, from_version=last + 1, tenant_id=tenant_id):
        last = event.version
        yield event
        if event.type in TERMINAL:
            return
    async for event in store.subscribe(after=head, stream_prefix=stream, tenant_id=tenant_id):
        if event.stream_id != stream or event.version <= last:
            continue
        # A subscription yields in log order, and a stream's versions are its order in
        # the log: a version other than the next one would be a gap, never silently passed.
        if event.version != last + 1:
            async for missed in store.read_stream(
                stream, from_version=last + 1, tenant_id=tenant_id
            ):
                if missed.version >= event.version:
                    break
                last = missed.version
                yield missed
        last = event.version
        yield event
        if event.type in TERMINAL:
            return


def sse_frame(event: RecordedEvent) -> bytes:
    view = client_view(event)
    return (
        f"id: {event.version}\nevent: {view['kind']}\n".encode()
        + b"data: "
        + orjson.dumps(view)
        + b"\n\n"
    )


async def sse_body(
    store: EventStore, reply_id: str, tenant_id: str | None, after: int
) -> AsyncIterator[bytes]:
    """The SSE response body: frames, keep-alive comments, and ``event: end`` at the end."""
    yield f"retry: {RETRY_MS}\n\n".encode()
    queue: asyncio.Queue[RecordedEvent | None] = asyncio.Queue()

    async def pump() -> None:
        try:
            async for event in reply_events(store, reply_id, tenant_id, after):
                await queue.put(event)
        finally:
            await queue.put(None)

    task = asyncio.create_task(pump(), name=f"assistant sse {reply_id}")
    try:
        while True:
            try:
                async with asyncio.timeout(KEEPALIVE):
                    event = await queue.get()
            except TimeoutError:
                yield b": keep-alive\n\n"
                continue
            if event is None:
                break
            yield sse_frame(event)
        if task.done() and task.exception() is not None:
            raise task.exception()  # type: ignore[misc]
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
