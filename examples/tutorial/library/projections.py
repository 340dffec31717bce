"""Step 3: the shelf, a read model kept by a projection, and the query that reads it."""

from __future__ import annotations

from typing import Any

from headwater import TEXT, Column, EventStore, Projection, RecordedEvent, Statement, Table

from library.domain import BookAdded, BookId, BookLent, BookReturned

BOOKS = Table(
    "library_books",
    {
        "book_id": TEXT,
        "tenant_id": TEXT,
        "title": TEXT,
        "author": TEXT,
        "lent_to": Column(TEXT, nullable=True),  # None while on the shelf
    },
    primary_key="book_id",
)

# Handlers are pure: an event in, SQL out. No mode given: attached with
# attach_inline (step 4) it runs inside each append's own transaction.
shelf = Projection("library_shelf", tables=[BOOKS])


def _book_id(event: RecordedEvent) -> str:
    return BookId.from_stream_id(event.stream_id).value


@shelf.on(BookAdded)
def _added(event: RecordedEvent) -> Statement:
    row = {"book_id": _book_id(event), "tenant_id": event.tenant_id, **event.data}
    return BOOKS.upsert(row)


@shelf.on(BookLent)
def _lent(event: RecordedEvent) -> Statement:
    return BOOKS.update({"lent_to": event.data["to"]}, where={"book_id": _book_id(event)})


@shelf.on(BookReturned)
def _returned(event: RecordedEvent) -> Statement:
    return BOOKS.update({"lent_to": None}, where={"book_id": _book_id(event)})


async def list_books(store: EventStore, tenant_id: str) -> list[dict[str, Any]]:
    """A tenant's books by title. Every query filters by tenant: the table holds all."""
    rows = await store.fetchall(
        f"SELECT book_id, title, author, lent_to FROM {BOOKS.ref} "
        "WHERE tenant_id = ? ORDER BY title, book_id",
        (tenant_id,),
    )
    return [dict(zip(("book_id", "title", "author", "lent_to"), r, strict=True)) for r in rows]
