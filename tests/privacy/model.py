"""A person with declared personal fields, and a note about them naming them by field."""

from __future__ import annotations

from typing import Annotated, ClassVar

from headwater.domain import Aggregate, AggregateId, Event, when
from headwater.privacy import Personal


class PersonId(AggregateId, prefix="person"):
    pass


class PersonRegistered(Event, type="privacytest.PersonRegistered"):
    name: Annotated[str, Personal("[erased]")]
    email: Annotated[str | None, Personal(None)] = None
    city: str = ""


class PersonRenamed(Event, type="privacytest.PersonRenamed"):
    name: Annotated[str, Personal("[erased]")]


class NoteAdded(Event, type="privacytest.NoteAdded"):
    """A note in someone else's stream whose personal field belongs to ``about``."""

    personal_subject: ClassVar[str | None] = "about"
    about: str
    text: Annotated[str, Personal("")]


class Person(Aggregate[PersonId], type_name="privacytest.Person"):
    name: str = ""
    email: str | None = None
    city: str = ""
    notes: list[str] = []

    def register(self, name: str, email: str | None, city: str = "") -> None:
        self.record(PersonRegistered(name=name, email=email, city=city))

    def rename(self, name: str) -> None:
        self.record(PersonRenamed(name=name))

    def note(self, about: str, text: str) -> None:
        self.record(NoteAdded(about=about, text=text))

    @when(PersonRegistered)
    def _registered(self, event: PersonRegistered) -> None:
        self.name, self.email, self.city = event.name, event.email, event.city

    @when(PersonRenamed)
    def _renamed(self, event: PersonRenamed) -> None:
        self.name = event.name

    @when(NoteAdded)
    def _noted(self, event: NoteAdded) -> None:
        self.notes = [*self.notes, event.text]
