"""Guests and the families they come with."""

from __future__ import annotations

from typing import Any

from apps.qrevent.domain.ids import FamilyId, GuestId
from headwater.domain import Aggregate, Event, when


class GuestRegistered(Event, type="qrevent.GuestRegistered"):
    event_id: str
    first_name: str
    last_name: str
    email: str | None = None
    family_id: str | None = None


class GuestUpdated(Event, type="qrevent.GuestUpdated"):
    event_id: str
    changes: dict[str, Any]


class FamilyCreated(Event, type="qrevent.FamilyCreated"):
    event_id: str
    name: str


class FamilyRenamed(Event, type="qrevent.FamilyRenamed"):
    event_id: str
    name: str


class FamilyDeleted(Event, type="qrevent.FamilyDeleted"):
    """A tombstone: the family is gone; its guests stay, without a family."""

    event_id: str


class GuestDeleted(Event, type="qrevent.GuestDeleted"):
    """A tombstone: the guest leaves the lists; their invitation, when it admitted
    only them, is revoked and deleted with them (``apps.qrevent.delete_commands``)."""

    event_id: str


class Guest(Aggregate[GuestId], type_name="qrevent.Guest"):
    event_id: str = ""
    first_name: str = ""
    last_name: str = ""
    email: str | None = None
    family_id: str | None = None
    deleted: bool = False

    def register(self, **fields: Any) -> None:
        if not self.exists:
            self.record(GuestRegistered(**fields))

    def update(self, changes: dict[str, Any]) -> None:
        changed = {k: v for k, v in changes.items() if getattr(self, k) != v}
        if changed:
            self.record(GuestUpdated(event_id=self.event_id, changes=changed))

    def delete(self) -> None:
        if not self.deleted:
            self.record(GuestDeleted(event_id=self.event_id))

    @when(GuestDeleted)
    def _deleted(self, event: GuestDeleted) -> None:
        self.deleted = True

    @when(GuestRegistered)
    def _registered(self, event: GuestRegistered) -> None:
        self.event_id = event.event_id
        self.first_name = event.first_name
        self.last_name = event.last_name
        self.email = event.email
        self.family_id = event.family_id

    @when(GuestUpdated)
    def _updated(self, event: GuestUpdated) -> None:
        for key, value in event.changes.items():
            setattr(self, key, value)


class Family(Aggregate[FamilyId], type_name="qrevent.Family"):
    event_id: str = ""
    name: str = ""
    deleted: bool = False

    def create(self, event_id: str, name: str) -> None:
        if not self.exists:
            self.record(FamilyCreated(event_id=event_id, name=name))

    def rename(self, name: str) -> None:
        if name != self.name:
            self.record(FamilyRenamed(event_id=self.event_id, name=name))

    def delete(self) -> None:
        if not self.deleted:
            self.record(FamilyDeleted(event_id=self.event_id))

    @when(FamilyCreated)
    def _created(self, event: FamilyCreated) -> None:
        self.event_id = event.event_id
        self.name = event.name

    @when(FamilyRenamed)
    def _renamed(self, event: FamilyRenamed) -> None:
        self.name = event.name

    @when(FamilyDeleted)
    def _deleted(self, event: FamilyDeleted) -> None:
        self.deleted = True
