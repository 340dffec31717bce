"""A read route for the partition tests: ``GET /_test/read/{stream_id}`` reads the store.

Served next to the realtime test app's append route, so load can append and read
through every node (``--app tests.http.partition_app:reader``).
"""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import APIRouter, Request

from headwater.modules import Module


class ReadModule(Module):
    """``GET /_test/read/{stream_id}``: the stream's version and last position."""

    name = "test-read"

    def routers(self) -> Sequence[APIRouter]:
        router = APIRouter(tags=["testing"])

        @router.get("/_test/read/{stream_id}")
        async def read(stream_id: str, request: Request) -> dict[str, int]:
            store = request.app.state.runtime.store
            last = 0
            count = 0
            async for event in store.read_stream(stream_id, backwards=True, limit=5):
                last = max(last, event.position)
                count += 1
            return {"events": count, "last_position": last}

        return [router]


reader = ReadModule()
