"""Step 2: a book is an aggregate; its state changes only by applying its own events."""

from __future__ import annotations

from headwater import Aggregate, AggregateId, Event, InvalidInput, NotFound, when


class BookId(AggregateId, prefix="book"):
    pass


class BookAdded(Event, type="library.BookAdded"):
    title: str
    author: str


class BookLent(Event, type="library.BookLent"):
    to: str


class BookReturned(Event, type="library.BookReturned"):
    pass


class Book(Aggregate[BookId], type_name="library.Book"):
    title: str = ""
    author: str = ""
    lent_to: str | None = None

    # Deciding: check the rules against the current state, then record what happened.
    def add(self, title: str, author: str) -> None:
        if self.exists:
            raise InvalidInput(f"book {self.id.value} is on the shelf already")
        self.record(BookAdded(title=title, author=author))

    def lend(self, to: str) -> None:
        if not self.exists:
            raise NotFound(f"no book {self.id.value}")
        if self.lent_to is not None:
            raise InvalidInput(f"{self.title!r} is lent to {self.lent_to} already")
        self.record(BookLent(to=to))

    def give_back(self) -> None:
        if not self.exists:
            raise NotFound(f"no book {self.id.value}")
        if self.lent_to is not None:
            self.record(BookReturned())

    # Applying: the only place state changes (replaying the log runs these again).
    @when(BookAdded)
    def _added(self, event: BookAdded) -> None:
        self.title = event.title
        self.author = event.author

    @when(BookLent)
    def _lent(self, event: BookLent) -> None:
        self.lent_to = event.to

    @when(BookReturned)
    def _returned(self, event: BookReturned) -> None:
        self.lent_to = None
