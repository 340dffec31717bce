"""Steps 2 and 3 without a server: commands through the bus, the shelf through the store."""

from __future__ import annotations

import asyncio

import pytest
from headwater import CommandContext, InvalidInput, Repository, attach_inline, create_event_store

from library.commands import AddBook, LendBook, ReturnBook, build_bus
from library.domain import Book, BookId
from library.projections import list_books, shelf


# --8<-- [start:bus]
async def lend_a_book() -> Book:
    async with await create_event_store("sqlite:///:memory:") as store:
        repository = Repository(store)
        bus = build_bus(repository)

        def staff() -> CommandContext:  # a new command id each time (a repeat is a no-op)
            return CommandContext(actor="staff-1", tenant_id="tenant-a")

        book_id = BookId.new()
        await bus.send(AddBook(book_id=book_id, title="Dune", author="Frank Herbert"), staff())
        await bus.send(LendBook(book_id=book_id, to="Ada"), staff())
        with pytest.raises(InvalidInput):  # the aggregate's rule: one loan at a time
            await bus.send(LendBook(book_id=book_id, to="Bob"), staff())

        return await repository.require(Book, book_id, tenant_id="tenant-a")


def test_a_book_is_lent_once_at_a_time() -> None:
    book = asyncio.run(lend_a_book())
    assert (book.title, book.lent_to, book.version) == ("Dune", "Ada", 2)
    # --8<-- [end:bus]


# --8<-- [start:shelf]
def _as(tenant: str) -> CommandContext:
    return CommandContext(actor="staff", tenant_id=tenant)


async def shelves() -> tuple[list[str], list[str]]:
    async with await create_event_store("sqlite:///:memory:") as store:
        await attach_inline(store, [shelf])  # the shelf is written with every append
        bus = build_bus(Repository(store))
        for tenant, title in (("a", "Dune"), ("a", "Emma"), ("b", "Ulysses")):
            book_id = BookId.new()
            await bus.send(AddBook(book_id=book_id, title=title, author="?"), _as(tenant))
            if title == "Emma":
                await bus.send(LendBook(book_id=book_id, to="Ada"), _as(tenant))
                await bus.send(ReturnBook(book_id=book_id), _as(tenant))
        a = await list_books(store, "a")  # read right after the append: never behind
        b = await list_books(store, "b")
        return [f"{x['title']}:{x['lent_to']}" for x in a], [x["title"] for x in b]


def test_the_shelf_follows_the_log_per_tenant() -> None:
    assert asyncio.run(shelves()) == (["Dune:None", "Emma:None"], ["Ulysses"])
    # --8<-- [end:shelf]


def test_first_events_shows_the_log_and_the_lost_race() -> None:
    from first_events import main

    assert asyncio.run(main()) == ["1 BookAdded", "2 BookLent"]
