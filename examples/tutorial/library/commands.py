"""Step 2: commands, and the bus that loads a book, runs the handler and saves its events."""

from __future__ import annotations

from headwater import Command, CommandBus, Repository
from pydantic import Field

from library.domain import Book, BookId


class AddBook(Command[str], name="library.AddBook"):
    book_id: BookId
    title: str = Field(min_length=1, max_length=200)
    author: str = Field(min_length=1, max_length=200)


class LendBook(Command[None], name="library.LendBook"):
    book_id: BookId
    to: str = Field(min_length=1, max_length=200)


class ReturnBook(Command[None], name="library.ReturnBook"):
    book_id: BookId


def build_bus(repository: Repository) -> CommandBus:
    bus = CommandBus(repository)

    # The bus finds the book by the command's BookId field, loads it, calls the
    # handler and saves what it recorded; a concurrent writer makes it retry.
    @bus.handler(AddBook, Book)
    def add(command: AddBook, book: Book) -> str:
        book.add(command.title, command.author)
        return book.id.value

    @bus.handler(LendBook, Book)
    def lend(command: LendBook, book: Book) -> None:
        book.lend(command.to)

    @bus.handler(ReturnBook, Book)
    def give_back(command: ReturnBook, book: Book) -> None:
        book.give_back()

    return bus
