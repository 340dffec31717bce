"""Step 1: the event store on its own: append, lose a race, read back."""

from __future__ import annotations

import asyncio

from headwater import NO_STREAM, ConcurrencyError, NewEvent, create_event_store


async def main() -> list[str]:
    async with await create_event_store("sqlite:///:memory:") as store:
        # A new stream: NO_STREAM says "only if nobody wrote it first".
        await store.append(
            "book-dune",
            [NewEvent("BookAdded", {"title": "Dune", "author": "Frank Herbert"})],
            expected_version=NO_STREAM,
        )
        await store.append("book-dune", [NewEvent("BookLent", {"to": "Ada"})], expected_version=1)

        # A writer that read version 1 is too late now: it writes nothing.
        try:
            await store.append(
                "book-dune", [NewEvent("BookLent", {"to": "Bob"})], expected_version=1
            )
        except ConcurrencyError as conflict:
            print(f"refused: the stream is at version {conflict.actual}")

        return [f"{event.version} {event.type}" async for event in store.read_stream("book-dune")]


if __name__ == "__main__":
    print(asyncio.run(main()))
